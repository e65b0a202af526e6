# Table 2 (b) on the synthetic dataset with the demo's settings: (a) + fixed
# layers fused by concatenation and projection. The tiny CLIP has 6 layers
# (AFS groups 2-3 and 4-5); layers 3 and 5 play the part of ViT-B's 6 and 9,
# the last layer of each group.
_base_ = ['../../asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(
    neck=dict(fusion='concat', low_layers=(3, ), mid_layers=(5, )),
    decode_head=dict(branch='cfs'))
