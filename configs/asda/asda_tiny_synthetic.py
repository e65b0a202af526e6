# The built-in demo (`make demo`): ASDA with a small random-init CLIP on the
# synthetic referring dataset (tools/dataset_converters/make_synthetic_refcoco.py),
# trained from scratch on a CPU in minutes. Same model code path as ViT-B/16.
#   python tools/train.py configs/asda/asda_tiny_synthetic.py
_base_ = [
    './_base_/models/asda_tiny-clip.py',
    './_base_/datasets/synthetic.py',
    './_base_/default_runtime.py',
]
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

# SFA's lateral width as in the paper (32; the tiny-CLIP base has 16).
model = dict(neck=dict(lateral_channels=32))

# From scratch, so no 0.1x backbone lr; a short warm-up, then cosine decay.
max_epochs = 12
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0))
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
