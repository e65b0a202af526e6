"""asda.engine.launch: the rules that pick the CPU or the GPU path."""
import pytest
import torch
from mmengine.config import Config

from asda.engine import enable_amp, setup_cpu_distributed


def _cfg(kind='OptimWrapper'):
    return Config(dict(optim_wrapper=dict(
        type=kind, optimizer=dict(type='SGD', lr=0.1))))


@pytest.mark.parametrize('cuda, expected', [
    (False, dict(type='CPUAutocastOptimWrapper', dtype='bfloat16')),
    (True, dict(type='AmpOptimWrapper', loss_scale='dynamic')),
])
def test_enable_amp_follows_cuda_availability(monkeypatch, cuda, expected):
    # (CUDA_VISIBLE_DEVICES='' makes is_available() False: the CPU path)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = _cfg()
    enable_amp(cfg)
    for key, value in expected.items():
        assert cfg.optim_wrapper[key] == value


def test_enable_amp_keeps_an_amp_wrapper_and_refuses_others():
    cfg = _cfg('AmpOptimWrapper')
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    with pytest.raises(ValueError, match="'ApexOptimWrapper'"):
        enable_amp(_cfg('ApexOptimWrapper'))


def test_cpu_distributed_only_without_cuda(monkeypatch):
    cfg = _cfg()
    assert setup_cpu_distributed(cfg, 'none') is False
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert setup_cpu_distributed(cfg, 'pytorch') is False  # mmengine: NCCL
    assert 'model_wrapper_cfg' not in cfg
