# WCG coefficients as in the official release: the Nc x 26 x 26 map is
# flattened and mapped by a Linear (position-aware; fixed 416 x 416 input).
_base_ = ['./asda_vitb_10e_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(decode_head=dict(coef_pool='flatten', coef_grid=(26, 26)))
