# SFA as in the official release: low/mid up-sampled to 4x / 2x the token
# grid (transposed convs), fused top-down, max-pooled back to 26 x 26.
_base_ = ['./asda_vitb_10e_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(pyramid='release'))
