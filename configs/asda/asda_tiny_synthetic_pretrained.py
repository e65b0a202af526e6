# `make demo` from stage one's checkpoint: the committed tiny CLIP
# (checkpoints/tiny_clip_synthetic.pt, its provenance beside it; made by
# `make pretrain`: ClipLoss on captions + the dense region-phrase term), both
# encoders at 0.1x lr as the paper trains ViT-B/16, otherwise the demo's
# recipe. Paths are relative to the repository root, where make runs.
#   make demo DEMO_ARGS="--config configs/asda/asda_tiny_synthetic_pretrained.py \
#     --work-dir work_dirs/demo_pretrained"
_base_ = ['./asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

model = dict(backbone=dict(
    pretrained='checkpoints/tiny_clip_synthetic.pt'))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
