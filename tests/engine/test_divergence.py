"""A diverged run stops (asda.engine.DivergenceHook, which every ASDARunner
has): at the first NaN / inf loss, naming the iteration, with the last
finite checkpoint kept; non-finite weights are never saved, and the tools
that read a checkpoint refuse them naming a tensor. A step that AMP's loss
scaler skipped is allowed."""
import itertools
import os

import pytest
import torch
from asda_test_utils import (
    DEMO_CONFIG,
    linear_toy_model,
    load_tool,
    save_random_checkpoint,
    write_config,
)
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

from asda.engine import (
    ASDARunner,
    DivergenceHook,
    NonFiniteWeightsError,
    TrainingDivergedError,
    load_model_checkpoint,
)

_NAMES = itertools.count()


class _NaNGradient(BaseModel):
    """A finite loss (1) whose gradient is NaN: sqrt(|p|) at p = 0."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, targets=None, mode='tensor'):
        return dict(loss=self.p.abs().sqrt().sum() + 1.0)


class _ScaledOptimWrapper(OptimWrapper):
    """mmengine's AmpOptimWrapper's steps on a CPU: a dynamic loss scaler
    that skips a step whose gradients are not finite and halves its scale."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_scaler = torch.amp.GradScaler('cpu')

    def backward(self, loss, **kwargs):
        self.loss_scaler.scale(loss).backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs):
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update()


def _batches(nan_batches=(), count=2):
    """``count`` batches of 4 points; those listed have a NaN input."""
    data = []
    for b in range(count):
        for i in range(4):
            x = float('nan') if b in nan_batches else float(4 * b + i)
            data.append(dict(inputs=torch.tensor([x, 1.0]),
                             targets=torch.tensor(float(i))))
    return data


def _runner(work_dir, data, model=None, iters=4, scaled=False, custom_hooks=None):
    """An ASDARunner of ``iters`` iterations of SGD over ``data`` (batch 4,
    no shuffle) with a checkpoint after every iteration."""
    model = model or linear_toy_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    wrapper = _ScaledOptimWrapper(optimizer=optimizer) if scaled else \
        OptimWrapper(optimizer=optimizer)
    return ASDARunner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(dataset=data, batch_size=4,
                              sampler=dict(type='InfiniteSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=wrapper,
        train_cfg=dict(by_epoch=False, max_iters=iters),
        default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', interval=1,
                                           by_epoch=False, max_keep_ckpts=1)),
        custom_hooks=custom_hooks, default_scope='mmseg',
        experiment_name=f'toy_divergence_{next(_NAMES)}', cfg=Config(dict()))


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def test_every_runner_has_one_divergence_hook(tmp_path):
    runner = _runner(tmp_path / 'a', _batches())
    assert sum(isinstance(h, DivergenceHook) for h in runner.hooks) == 1
    own = _runner(tmp_path / 'b', _batches(),
                  custom_hooks=[dict(type='DivergenceHook', max_skipped_steps=3)])
    [hook] = [h for h in own.hooks if isinstance(h, DivergenceHook)]
    assert hook.max_skipped_steps == 3


def test_training_stops_at_the_first_non_finite_loss(tmp_path):
    runner = _runner(tmp_path, _batches(nan_batches=[1]))
    with pytest.raises(TrainingDivergedError) as err:
        runner.train()
    message = str(err.value)
    assert 'the loss is not finite at iteration 2: loss=nan' in message
    assert f'the last checkpoint, saved before it, is {tmp_path / "iter_1.pth"}' in message
    # the checkpoint of iteration 1 is kept, finite; none of iteration 2
    assert sorted(os.listdir(tmp_path)).count('iter_1.pth') == 1
    assert not (tmp_path / 'iter_2.pth').exists()
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_1.pth')
    assert all(torch.isfinite(v).all() for v in _weights(tmp_path / 'iter_1.pth').values())


def test_non_finite_weights_are_never_saved(tmp_path):
    runner = _runner(tmp_path, _batches(), model=_NaNGradient())
    with pytest.raises(TrainingDivergedError) as err:
        runner.train()  # the loss is finite; the weights after the step are not
    assert ('training diverged: the model after iteration 1 holds non-finite '
            'weights: p has 1 NaN and 0 inf values of 1: not saved') in str(err.value)
    assert 'no checkpoint was saved before it' in str(err.value)
    assert [f for f in os.listdir(tmp_path) if f.endswith('.pth') or '.tmp-' in f] == []


def test_a_step_the_loss_scaler_skipped_is_allowed(tmp_path):
    runner = _runner(tmp_path, _batches(nan_batches=[1]), iters=4, scaled=True)
    runner.train()  # iterations 2 and 4 are skipped by the scaler
    assert runner.iter == 4
    assert runner.optim_wrapper.loss_scaler.get_scale() == 65536.0 / 4
    weights = _weights(tmp_path / 'iter_4.pth')
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_too_many_skipped_steps_in_a_row_stop_the_run(tmp_path):
    runner = _runner(tmp_path, _batches(nan_batches=[0, 1]), iters=6, scaled=True,
                     custom_hooks=[dict(type='DivergenceHook', max_skipped_steps=2)])
    with pytest.raises(TrainingDivergedError,
                       match=r'iteration 3: loss=nan; the AMP '
                       r'loss scaler skipped 3 steps in a row \(max_skipped_steps=2\)'):
        runner.train()


@pytest.fixture(scope='module')
def nan_checkpoint(tmp_path_factory):
    """The demo model's random weights with one NaN and one inf in
    ``decode_head.conv_seg.weight`` (what a diverged run leaves)."""
    path = str(tmp_path_factory.mktemp('nan') / 'diverged.pth')
    model = save_random_checkpoint(path, DEMO_CONFIG, seed=0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    name = next(k for k in state if k.endswith('weight') and state[k].numel() > 2)
    state[name].view(-1)[:2] = torch.tensor([float('nan'), float('inf')])
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path, name, model


def test_loading_non_finite_weights_is_refused_naming_the_tensor(nan_checkpoint):
    path, name, model = nan_checkpoint
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(NonFiniteWeightsError,
                       match=f'{path} holds non-finite weights: {name} has 1 NaN and '
                       '1 inf values'):
        load_model_checkpoint(model, path)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_publish_model_refuses_non_finite_weights(nan_checkpoint, tmp_path, capsys):
    path, name, _ = nan_checkpoint
    tool = load_tool('tools/misc/publish_model.py', 'asda_publish_nan')
    with pytest.raises(SystemExit) as exit_:
        tool.main([path, str(tmp_path / 'published.pth')])
    assert f'{path} holds non-finite weights: {name} has 1 NaN' in str(exit_.value.code)
    assert os.listdir(tmp_path) == []


def test_test_tool_refuses_non_finite_weights(nan_checkpoint, small_dataset, tmp_path,
                                              capsys):
    path, name, _ = nan_checkpoint
    cfg = write_config(tmp_path / 'cfg.py', small_dataset)
    tool = load_tool('tools/test.py', 'asda_test_tool_nan')
    with pytest.raises(NonFiniteWeightsError,
                       match=f'{path} holds non-finite weights: {name} has 1 NaN'):
        tool.main([cfg, path, '--work-dir', str(tmp_path / 'work'),
                   '--cfg-options', f'experiment_name=nan_{id(tmp_path)}'])
    printed = capsys.readouterr()
    assert 'oIoU' not in printed.out + printed.err  # no metric table


@pytest.mark.slow
def test_train_tool_with_a_huge_learning_rate_stops(small_dataset, tmp_path):
    """The demo model with lr 1e6: the loss is NaN within a few steps;
    tools/train.py raises naming the iteration, every checkpoint left is
    finite and publish_model.py would publish it."""
    cfg = write_config(tmp_path / 'cfg.py', small_dataset)
    work = tmp_path / 'work'
    tool = load_tool('tools/train.py', 'asda_train_tool_diverges')
    with pytest.raises(TrainingDivergedError, match=r'the loss is not finite at '
                       r'iteration \d+ \(epoch \d+, batch \d+\): loss=nan'):
        tool.main([cfg, '--work-dir', str(work), '--cfg-options',
                   'optim_wrapper.optimizer.lr=1e6', 'train_cfg.max_epochs=4',
                   'train_cfg.val_interval=100', f'experiment_name=lr_{id(tmp_path)}'])
    for path in work.glob('*.pth'):
        assert all(torch.isfinite(v).all() for v in _weights(path).values()
                   if v.is_floating_point()), path
