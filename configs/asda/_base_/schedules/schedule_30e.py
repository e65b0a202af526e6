# The paper's schedule (Sec. 4.2): Adam, lr 5e-5, 30 epochs, lr x0.1 at
# epochs 18 and 25; the CLIP encoders train with 0.1x lr (the release's
# choice). Batch 28 = 2 GPUs x 14 (see the dataset config). Validation after
# every epoch; the best oIoU checkpoint is kept.
max_epochs = 30
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=5e-5, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        milestones=[18, 25],
        gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
