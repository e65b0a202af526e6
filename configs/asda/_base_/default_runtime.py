# Runtime shared by the ASDA configs (mmseg scope).
# No custom_imports here: mmengine forbids a key in two sibling bases, and
# the dataset bases already import asda; leaf configs set it as well.
default_scope = 'mmseg'
# asda.engine.ASDARunner: strict checkpoint loading (a checkpoint of another
# model is refused; `load_partial = True` loads `load_from` partially, for
# fine-tuning from another model) and --resume that falls back to the newest
# readable checkpoint.
runner_type = 'ASDARunner'
# malloc_top_pad: the spare memory glibc keeps at the top of its heap
# (asda.utils.malloc): a CPU training step stops handing its tensors' memory
# back to the kernel and faulting it in again (ASDARunner applies it; 0 or
# None: glibc's settings are left alone).
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo on a CPU
    malloc_top_pad=256 << 20,
)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # crash-safe: written to a temporary file, fsynced, renamed; old ones are
    # deleted only after the new one and last_checkpoint are complete
    checkpoint=dict(
        type='SafeCheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=2,
        save_best='oIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
vis_backends = [dict(type='LocalVisBackend')]
# Expression + masks (asda.visualization). No fixed name: each Runner gets
# its own (mmengine keeps visualizers by name, process-wide).
visualizer = dict(type='RISLocalVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=True, window_size=50)
log_level = 'INFO'
load_from = None
load_partial = False
resume = False
