# Table 2 (d) = (a) + AFS + SFA, decoded by the CFS branch alone.
_base_ = ['../asda_vitb_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(fusion='sfa'), decode_head=dict(branch='cfs'))
