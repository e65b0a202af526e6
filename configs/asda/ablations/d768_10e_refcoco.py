# SFA's aggregation restores the full visual width (d_model = 768), the
# paper's "restore the channel dimensions" read literally; CFS and WCG then
# run at 768 (12 heads of 64).
_base_ = ['./asda_vitb_10e_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(
    neck=dict(d_model=768),
    decode_head=dict(in_channels=768, num_heads=12))
