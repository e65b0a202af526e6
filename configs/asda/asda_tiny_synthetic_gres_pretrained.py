# `make demo-gres` from stage one's checkpoint (see
# asda_tiny_synthetic_pretrained.py): both encoders at 0.1x lr.
#   make demo-gres DEMO_ARGS="\
#     --config configs/asda/asda_tiny_synthetic_gres_pretrained.py \
#     --work-dir work_dirs/demo_gres_pretrained"
_base_ = ['./asda_tiny_synthetic_gres.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

model = dict(backbone=dict(
    pretrained='checkpoints/tiny_clip_synthetic.pt'))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
