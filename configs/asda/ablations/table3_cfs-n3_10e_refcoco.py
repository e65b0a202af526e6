# Table 3: n = 3 self-attention layers in CFS's Local Visual Attention.
_base_ = ['./asda_vitb_10e_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(decode_head=dict(num_layers=3))
