"""ASDARunner: each runner of a process has its own name, log and hub; a
training length that trains nothing is refused."""
import multiprocessing
import os
import time

import pytest
import torch
import torch.nn as nn
from asda_test_utils import linear_toy_training
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel

from asda.engine import ASDARunner, FormattedOnceConfig


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.fc(inputs)


def _runner(work_dir, **kwargs):
    # no experiment_name: mmengine names a run after its config and the
    # second it starts, so two runners made at once would share the name
    return ASDARunner(model=_Toy(), work_dir=str(work_dir), default_scope='mmengine',
                      cfg=Config(dict()), **kwargs)


def test_runners_made_at_once_keep_their_own_log_and_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(time, 'time', lambda: 1.8e9)  # both in one second
    first, second = _runner(tmp_path / 'a'), _runner(tmp_path / 'b')
    assert first.experiment_name != second.experiment_name
    assert first.logger is not second.logger
    assert first.message_hub is not second.message_hub
    second.logger.info('a line of the second run')
    logs = [r.logger.handlers[-1].baseFilename for r in (first, second)]
    assert logs[0].startswith(str(tmp_path / 'a')) and logs[1].startswith(str(tmp_path / 'b'))
    with open(logs[0]) as f:
        assert 'a line of the second run' not in f.read()


@pytest.mark.parametrize('train_cfg, key', [
    (dict(by_epoch=True, max_epochs=0), 'max_epochs'),
    (dict(type='EpochBasedTrainLoop', max_epochs=-1), 'max_epochs'),
    (dict(by_epoch=False, max_iters=0), 'max_iters'),
    (dict(by_epoch=True, max_epochs=1.5), 'max_epochs'),
])
def test_a_training_length_that_trains_nothing_is_refused(train_cfg, key, tmp_path):
    """mmengine trains such a run for no step and ends as if it had
    trained."""
    with pytest.raises(ValueError, match=f'train_cfg.{key} must be an integer >= 1, '
                       f'got {train_cfg[key]!r}'):
        ASDARunner(**linear_toy_training(), work_dir=str(tmp_path), train_cfg=train_cfg,
                   optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                   default_scope='mmengine', cfg=Config(dict()))
    assert not tmp_path.exists() or os.listdir(tmp_path) == []  # nothing written


def test_a_run_formats_its_config_once(tmp_path, monkeypatch):
    """mmengine formats the config text (yapf, 0.1-0.4 s) for the log, the
    dump and every checkpoint: an ASDARunner formats it once, and every
    checkpoint holds the text mmengine would have written."""
    formatted = []
    plain = Config.pretty_text.fget

    def counted(cfg):
        formatted.append(1)
        return plain(cfg)

    monkeypatch.setattr(Config, 'pretty_text', property(counted))
    (tmp_path / 'toy_config.py').write_text('note = "two keys"\nvalues = [1, 2]\n')
    cfg = Config.fromfile(tmp_path / 'toy_config.py')
    expected = plain(cfg)
    work = tmp_path / 'work'
    runner = ASDARunner(**linear_toy_training(), work_dir=str(work),
                        train_cfg=dict(by_epoch=True, max_epochs=3),
                        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                                           interval=1)),
                        default_scope='mmengine', cfg=cfg)
    runner.train()
    assert len(formatted) == 1
    for epoch in (1, 2, 3):
        meta = torch.load(work / f'epoch_{epoch}.pth', weights_only=False)['meta']
        assert meta['cfg'] == expected
    assert (work / 'toy_config.py').read_text() == expected  # the dump


def test_a_changed_config_is_formatted_again():
    cfg = FormattedOnceConfig.of(Config(dict(lr=0.1)))
    assert cfg.pretty_text == 'lr = 0.1\n'
    cfg.lr = 0.2
    assert cfg.pretty_text == 'lr = 0.2\n'
    cfg.optimizer = dict(type='SGD')
    assert cfg.pretty_text == Config(dict(lr=0.2, optimizer=dict(type='SGD'))).pretty_text


class _Count(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        return dict(samples=float(sum(results)))


def test_train_val_and_test_stop_the_workers_their_loaders_keep(tmp_path):
    """Left to the garbage collector, each persistent worker took 5 s to
    stop; the runner stops them when the loop that uses them returns."""
    toy = linear_toy_training()
    loader = dict(toy['train_dataloader'], num_workers=1, persistent_workers=True)
    evaluator = dict(type=_Count)
    runner = ASDARunner(model=toy['model'], work_dir=str(tmp_path), train_dataloader=loader,
                        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
                        val_dataloader=loader, val_cfg=dict(), val_evaluator=evaluator,
                        test_dataloader=loader, test_cfg=dict(), test_evaluator=evaluator,
                        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                        default_scope='mmengine', cfg=Config(dict()))
    before = set(multiprocessing.active_children())
    runner.train()
    assert set(multiprocessing.active_children()) == before
    assert runner.val()['samples'] == 8
    assert set(multiprocessing.active_children()) == before
    assert runner.test()['samples'] == 8
    assert set(multiprocessing.active_children()) == before


@pytest.mark.parametrize('env_cfg, calls', [
    (dict(malloc_top_pad=256 << 20), [256 << 20]),
    (dict(malloc_top_pad=0), []),
    (dict(), []),
])
def test_the_runner_sets_the_configs_heap_pad(tmp_path, heap_pads, env_cfg, calls):
    _runner(tmp_path, env_cfg=env_cfg)
    assert heap_pads == calls


def test_a_heap_pad_mallopt_cannot_take_stops_the_runner(tmp_path):
    with pytest.raises(ValueError, match='malloc_top_pad'):
        _runner(tmp_path, env_cfg=dict(malloc_top_pad=-1))
