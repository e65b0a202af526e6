# Table 2 (e) on the synthetic dataset with the demo's settings: (d) + F_A
# cross-attends to the word features before the single-mask CFS decoder.
_base_ = ['../../asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(fusion='sfa'), decode_head=dict(branch='single'))
