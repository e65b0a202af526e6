# Table 2 (d) on the synthetic dataset with the demo's settings: AFS + SFA,
# decoded by the CFS branch alone.
_base_ = ['../../asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(fusion='sfa'), decode_head=dict(branch='cfs'))
