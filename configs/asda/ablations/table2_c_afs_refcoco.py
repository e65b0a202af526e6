# Table 2 (c) = (a) + AFS: the low/mid layers picked among 4-6 / 7-9, same
# concatenation fusion and decoder as (b).
_base_ = ['../asda_vitb_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(fusion='concat'), decode_head=dict(branch='cfs'))
