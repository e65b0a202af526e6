"""A resumed run equals the uninterrupted one bit for bit: the checkpoint
holds every random state training draws from (torch, numpy, Python's
random), restored when training continues, and validation between epochs
draws from them without moving them."""
import itertools
import random

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel

from asda.engine import ASDARunner

_NAMES = itertools.count()


class _NoisyData(torch.utils.data.Dataset):
    """8 points whose inputs each access jitters with numpy, Python's random
    and torch, as augmentations do."""

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        jitter = np.random.uniform(-0.1, 0.1) + random.uniform(-0.1, 0.1)
        inputs = torch.tensor([float(idx) + jitter, 1.0]) + 0.01 * torch.randn(2)
        return dict(inputs=inputs, targets=torch.tensor(float(idx)))


class _DropoutToy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 16)
        self.out = torch.nn.Linear(16, 1)
        self.drop = torch.nn.Dropout(0.5)  # draws from torch's generator

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.out(self.drop(torch.relu(self.fc(inputs)))).squeeze(1)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return [dict(pred=o, target=t) for o, t in zip(out, targets)]


class _MeanError(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results += [float((s['pred'] - s['target']).abs()) for s in data_samples]

    def compute_metrics(self, results):
        return dict(error=float(np.mean(results)))


def _runner(work_dir, max_epochs, resume=False):
    loader = dict(dataset=_NoisyData(), batch_size=4, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=True),
                  collate_fn=dict(type='default_collate'))
    torch.manual_seed(0)  # the same initial weights in every run
    model = _DropoutToy()
    return ASDARunner(
        model=model, work_dir=str(work_dir),
        train_dataloader=loader, val_dataloader=loader, val_evaluator=[_MeanError()],
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        val_cfg=dict(), default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=1, max_keep_ckpts=1)),
        randomness=dict(seed=7), resume=resume, default_scope='mmseg',
        experiment_name=f'rng_toy_{next(_NAMES)}')


def _weights(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.parametrize('disturb', [False, True])
def test_resumed_run_equals_the_uninterrupted_one(tmp_path, disturb):
    """Two epochs in one run, against one epoch, a new process's worth of
    other random draws (``disturb``), and a resumed second epoch."""
    whole = _runner(tmp_path / 'whole', 2)
    whole.train()
    _runner(tmp_path / 'parts', 1).train()
    if disturb:  # whatever else the process drew from the generators
        np.random.rand(5), random.random(), torch.rand(5)
    resumed = _runner(tmp_path / 'parts', 2, resume=True)
    resumed.train()
    expected, got = _weights(whole), _weights(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


@pytest.mark.parametrize('by_epoch, workers, reason', [
    (False, 0, 'an iteration-based loop re-reads the batches it skips'),
    (True, 1, "the train dataloader's persistent workers keep their random state"),
])
def test_resume_says_when_it_cannot_be_exact(tmp_path, by_epoch, workers, reason):
    """An iteration-based loop re-reads the batches it skips on resume
    (mmengine), and persistent workers keep generators no checkpoint holds:
    the resumed run says its draws differ."""
    def runner(length, resume=False):
        sampler = 'DefaultSampler' if by_epoch else 'InfiniteSampler'
        train_cfg = dict(by_epoch=True, max_epochs=length) if by_epoch else \
            dict(by_epoch=False, max_iters=length)
        return ASDARunner(
            model=_DropoutToy(), work_dir=str(tmp_path),
            train_dataloader=dict(dataset=_NoisyData(), batch_size=4,
                                  num_workers=workers, persistent_workers=workers > 0,
                                  sampler=dict(type=sampler),
                                  collate_fn=dict(type='default_collate')),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            train_cfg=train_cfg,
            default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                               by_epoch=by_epoch)),
            resume=resume, default_scope='mmseg',
            experiment_name=f'rng_toy_{next(_NAMES)}')

    runner(1).train()
    resumed = runner(2, resume=True)
    resumed.train()
    with open(resumed.logger.handlers[-1].baseFilename) as f:
        log = f.read()
    assert 'the random draws after the resume differ from an uninterrupted run' in log
    assert reason in log
