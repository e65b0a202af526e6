# Table 4: Nc = 48 response masks / coefficients.
_base_ = ['./asda_vitb_10e_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(decode_head=dict(num_masks=48))
