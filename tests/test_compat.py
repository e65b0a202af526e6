"""Tests for asda.compat: mmcv-lite fallback ops and the checkpoint allow-list."""
import os
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from asda_test_utils import child_env, linear_toy_training

import asda  # (applies the compat layer)
from asda import compat


def test_import_asda_then_mmseg_models_in_fresh_process():
    code = ('import asda, mmseg.models, mmcv.ops; '
            'from mmseg.models.losses.focal_loss import _sigmoid_focal_loss; '
            'print(type(mmcv.ops).__name__, _sigmoid_focal_loss.__module__, '
            'asda.__file__)')
    out = subprocess.run([sys.executable, '-c', code], env=child_env(),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    kind, module, asda_file = out.stdout.split()
    # the child imported this asda, not another copy (an installed one)
    assert os.path.samefile(asda_file, asda.__file__)
    if compat.compiled_mmcv_ops_available():
        assert kind == 'module'
    else:
        assert kind == '_FallbackOps'
        assert module == 'asda.compat'


@pytest.mark.skipif(compat.compiled_mmcv_ops_available(),
                    reason='the fallback is only installed with mmcv-lite')
def test_fallback_is_installed_with_mmcv_lite():
    import mmcv.ops
    assert mmcv.ops.point_sample is compat.point_sample
    assert mmcv.ops.sigmoid_focal_loss is compat.sigmoid_focal_loss
    with pytest.raises(ModuleNotFoundError, match='nms'):
        from mmcv.ops import nms  # noqa: F401
    with pytest.raises(ModuleNotFoundError):
        mmcv.ops.RoIAlign  # noqa: B018
    # dunder look-ups keep Python's protocol (hasattr, copy, pickle)
    assert not hasattr(mmcv.ops, '__path__')
    with pytest.raises(AttributeError):
        mmcv.ops.__wrapped__  # noqa: B018


@pytest.mark.parametrize('shape', [(2, 7, 2), (2, 3, 5, 2)])
def test_point_sample_matches_grid_sample(shape):
    torch.manual_seed(0)
    feat = torch.randn(2, 4, 9, 11)
    points = torch.rand(*shape)
    for align in (False, True):
        out = compat.point_sample(feat, points, align_corners=align)
        grid = points * 2 - 1
        if len(shape) == 3:
            expect = F.grid_sample(
                feat, grid[:, :, None], align_corners=align)[..., 0]
        else:
            expect = F.grid_sample(feat, grid, align_corners=align)
        assert out.shape == expect.shape
        torch.testing.assert_close(out, expect)


@pytest.mark.parametrize('reduction', ['none', 'sum', 'mean'])
def test_sigmoid_focal_loss_matches_torchvision(reduction):
    torch.manual_seed(0)
    logits = torch.randn(16, 5, requires_grad=True)
    target = torch.randint(0, 6, (16,))  # 5 == "background" row
    onehot = F.one_hot(target, 6)[:, :5].float()
    ours = compat.sigmoid_focal_loss(
        logits, target, gamma=2.0, alpha=0.25, reduction=reduction)
    ref = torchvision.ops.sigmoid_focal_loss(
        logits, onehot, alpha=0.25, gamma=2.0, reduction='none')
    ref = {'none': ref, 'sum': ref.sum(), 'mean': ref.sum() / 16}[reduction]
    torch.testing.assert_close(ours, ref)
    # gradients agree as well
    g1, = torch.autograd.grad(ours.sum(), logits)
    g2, = torch.autograd.grad(ref.sum(), logits)
    torch.testing.assert_close(g1, g2)


def test_sigmoid_focal_loss_class_weight_scales_rows():
    torch.manual_seed(1)
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    weight = torch.tensor([1.0, 2.0, 0.5])
    plain = compat.sigmoid_focal_loss(logits, target, reduction='none')
    weighted = compat.sigmoid_focal_loss(
        logits, target, weight=weight, reduction='none')
    torch.testing.assert_close(weighted, plain * weight[target, None])


def test_nothing_replaced_when_compiled_ops_exist(monkeypatch):
    """Simulate a full mmcv: ``mmcv._ext`` imports, ``mmcv.ops`` is real."""
    real_ops = types.ModuleType('mmcv.ops')
    monkeypatch.setitem(sys.modules, 'mmcv._ext', types.ModuleType('mmcv._ext'))
    monkeypatch.setitem(sys.modules, 'mmcv.ops', real_ops)
    assert compat.compiled_mmcv_ops_available()
    assert compat.apply_mmcv_ops_fallback() is False
    assert sys.modules['mmcv.ops'] is real_ops


def test_missing_mmcv_gives_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mmcv', None)
    with pytest.raises(ImportError, match='mmcv-lite'):
        compat.apply_mmcv_ops_fallback()


# ---------------------------------------------------------------- checkpoints
def _toy_runner(work_dir, max_epochs, resume=False):
    from mmengine.runner import Runner

    return Runner(
        **linear_toy_training(shuffle=True),
        work_dir=str(work_dir),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.01)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0),
        resume=resume,
        default_scope='mmengine',
        # mmengine's own Runner names a run after the second it starts; two
        # runs in one second would share a logger (ASDARunner avoids that)
        experiment_name=f'compat_toy_resume_{resume}')


def test_runner_checkpoint_resumes_with_weights_only(tmp_path):
    runner = _toy_runner(tmp_path, max_epochs=1)
    runner.train()
    ckpt = tmp_path / 'epoch_1.pth'
    # the file really holds non-tensor types, and loads weights_only
    from mmengine.logging import HistoryBuffer
    loaded = torch.load(ckpt, weights_only=True)
    assert loaded['meta']['epoch'] == 1
    hist = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(hist, HistoryBuffer) and hist.mean() > 0
    assert isinstance(hist.data[0], np.ndarray)
    # and a Runner resumes from it (mmengine calls torch.load with defaults)
    resumed = _toy_runner(tmp_path, max_epochs=2, resume=True)
    resumed.train()
    assert resumed.epoch == 2
    assert (tmp_path / 'epoch_2.pth').exists()


class _Evil:

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class _Arbitrary:

    def __reduce__(self):
        return _Arbitrary, ()


@pytest.mark.parametrize('payload', ['os.system', 'eval', 'class', 'getattr'])
def test_malicious_checkpoint_is_refused(tmp_path, payload):
    marker = tmp_path / 'pwned'
    if payload == 'os.system':
        evil = _Evil(os.system, (f'touch {marker}',))
    elif payload == 'eval':
        evil = _Evil(eval, (f'open({str(marker)!r}, "w").close()',))
    elif payload == 'getattr':
        # the allow-listed getattr must not reach anything but HistoryBuffer
        evil = _Evil(getattr, (np.ndarray, 'tofile'))
    else:
        evil = _Arbitrary()
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': evil}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    from mmengine.runner import load_checkpoint
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(nn.Linear(1, 1), str(path))
    assert not marker.exists()
