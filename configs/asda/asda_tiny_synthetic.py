# The built-in demo (`make demo`): the paper's two stages in miniature on the
# synthetic referring dataset (tools/dataset_converters/make_synthetic_refcoco.py),
# on a CPU in minutes. Stage one is the committed tiny CLIP
# (checkpoints/tiny_clip_synthetic.pt, its provenance beside it, made by
# `make pretrain`); stage two trains ASDA from it, here. Same model code path
# as ViT-B/16. The same model from a random CLIP: asda_tiny_synthetic_random_init.py.
#   python tools/train.py configs/asda/asda_tiny_synthetic.py
_base_ = [
    './_base_/models/asda_tiny-clip.py',
    './_base_/datasets/synthetic.py',
    './_base_/default_runtime.py',
]
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

# SFA's lateral width as in the paper (32; the tiny-CLIP base has 16). The
# checkpoint's path is relative to this file, so the config works from any
# directory.
model = dict(
    backbone=dict(
        pretrained='{{ fileDirname }}/../../checkpoints/tiny_clip_synthetic.pt'),
    neck=dict(lateral_channels=32))

# Both encoders at 0.1x lr, as the paper trains ViT-B/16; a short warm-up,
# then cosine decay.
max_epochs = 12
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min=1e-5, convert_to_iter_based=True),
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# A checkpoint every epoch (one kept, replaced crash-safely), so that an
# interrupted `make demo` resumes instead of starting over.
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
