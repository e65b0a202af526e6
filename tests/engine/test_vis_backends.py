"""Logging through mmengine's vis_backends (docs/tools.md): a short training
run with the TensorBoard backend writes an event file holding the training
loss of every iteration."""
import glob
import json
import os.path as osp

from asda_test_utils import write_config
from mmengine.config import Config

from asda.engine import ASDARunner

# docs/tools.md's snippet (TensorBoard beside the local JSON backend).
VIS_BACKENDS = '''
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='RISLocalVisualizer', vis_backends=vis_backends)
'''
SHORT_RUN = '''
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=3, val_interval=100)
param_scheduler = []
log_processor = dict(by_epoch=False)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=100))
# the loop would validate after its last iteration; this test is about training's logs
val_dataloader = val_cfg = val_evaluator = None
'''


def test_tensorboard_backend_writes_event_file(small_dataset, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = Config.fromfile(write_config(tmp_path / 'cfg.py', small_dataset,
                                       VIS_BACKENDS + SHORT_RUN))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'tensorboard_{id(cfg)}'  # visualizers are kept by name
    runner = ASDARunner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 3

    events = glob.glob(osp.join(cfg.work_dir, '**', 'events.out.tfevents.*'), recursive=True)
    assert len(events) == 1, events
    acc = EventAccumulator(events[0])
    acc.Reload()
    loss = acc.Scalars('loss')
    assert [e.step for e in loss] == [1, 2, 3]
    # the same values as the local backend's scalars.json
    [scalars] = glob.glob(osp.join(cfg.work_dir, '**', 'vis_data', 'scalars.json'),
                          recursive=True)
    with open(scalars) as f:
        local = [json.loads(line)['loss'] for line in f if '"loss"' in line]
    assert len(local) == 3
    assert all(abs(e.value - v) <= 1e-4 * max(1.0, abs(v)) for e, v in zip(loss, local))
