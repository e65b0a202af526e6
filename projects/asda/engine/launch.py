"""Distributed and mixed-precision set-up for ``tools/train.py`` and
``tools/test.py``.

Distributed runs without a GPU (docs/design.md, "Stack and its compatibility
layer", point 3): mmengine
0.10.7's pytorch launcher calls ``torch.cuda.set_device`` unconditionally
and its Runner wraps the model with ``device_ids=[LOCAL_RANK]``, both of
which fail on a CPU. The Runner skips its own initialisation when a process
group already exists and honours ``model_wrapper_cfg``, so on a CPU we
initialise gloo ourselves and wrap with ``device_ids=None``. The GPU path is
left to mmengine untouched.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config

__all__ = ['setup_cpu_distributed', 'enable_amp']


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Initialise gloo and a CPU DDP wrapper when launched without CUDA.

    Args:
        cfg (Config): The run config; ``model_wrapper_cfg`` is set in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: True if this function set up a CPU process group.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher == 'slurm':
        # srun sets SLURM_*; torchrun-style variables are derived here.
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    elif launcher == 'mpi':
        os.environ.setdefault('RANK', os.environ['OMPI_COMM_WORLD_RANK'])
        os.environ.setdefault('WORLD_SIZE', os.environ['OMPI_COMM_WORLD_SIZE'])
        os.environ.setdefault('LOCAL_RANK',
                              os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # a CPU module takes no device ids
    cfg.model_wrapper_cfg = wrapper
    return True


def enable_amp(cfg: Config) -> None:
    """Switch the config's optimizer wrapper to mixed precision.

    On a GPU this is mmengine's ``AmpOptimWrapper`` (fp16, dynamic loss
    scale); on a CPU it is :class:`asda.engine.CPUAutocastOptimWrapper`
    (bf16 autocast). A wrapper that already is one of them is kept.
    """
    optim_wrapper = cfg.optim_wrapper
    kind = optim_wrapper.get('type', 'OptimWrapper')
    if kind in ('AmpOptimWrapper', 'CPUAutocastOptimWrapper'):
        return
    if kind != 'OptimWrapper':
        raise ValueError(f'--amp: cannot replace optim_wrapper type {kind!r}')
    if torch.cuda.is_available():
        optim_wrapper.type = 'AmpOptimWrapper'
        optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        optim_wrapper.type = 'CPUAutocastOptimWrapper'
        optim_wrapper.setdefault('dtype', 'bfloat16')
