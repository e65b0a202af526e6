# Table 3: n = 1 self-attention layers in CFS's Local Visual Attention.
_base_ = ['./asda_vitb_10e_refcoco.py']
model = dict(decode_head=dict(num_layers=1))
