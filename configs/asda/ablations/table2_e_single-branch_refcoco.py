# Table 2 (e) = (d) + single-branch word fusion: F_A cross-attends to the
# word features (as CRIS's transformer decoder) before the CFS decoder.
_base_ = ['../asda_vitb_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(fusion='sfa'), decode_head=dict(branch='single'))
