# Table 2 (c) on the synthetic dataset with the demo's settings: AFS picks the
# low / mid layers among 2-3 / 4-5; concatenation fusion, CFS decoder alone.
_base_ = ['../../asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(fusion='concat'), decode_head=dict(branch='cfs'))
