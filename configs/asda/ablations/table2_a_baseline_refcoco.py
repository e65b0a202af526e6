# Table 2 (a) baseline: the last layer's features times f_E, decoded by the
# CFS segmentation decoder alone (one logit channel, no word features).
# Table 2 uses the full 30-epoch recipe.
_base_ = ['../asda_vitb_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(
    neck=dict(fusion='top', low_layers=(), mid_layers=()),
    decode_head=dict(branch='cfs'))
