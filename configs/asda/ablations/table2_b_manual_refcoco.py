# Table 2 (b) = (a) + manual assignment (as CRIS): layers 6 and 9 with the
# top layer, fused by concatenation and projection, no multi-scale maps.
_base_ = ['../asda_vitb_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(
    neck=dict(fusion='concat', low_layers=(6, ), mid_layers=(9, )),
    decode_head=dict(branch='cfs'))
