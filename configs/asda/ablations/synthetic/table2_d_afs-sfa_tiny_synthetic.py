# Table 2 (d) on the synthetic dataset with the demo's settings: AFS + SFA,
# decoded by the CFS branch alone.
_base_ = ['../../asda_tiny_synthetic.py']
model = dict(neck=dict(fusion='sfa'), decode_head=dict(branch='cfs'))
