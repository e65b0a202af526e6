"""Runner set-up shared by ``tools/train.py`` and ``tools/test.py``.

Distributed runs without a GPU (docs/design.md, "Stack and its compatibility
layer", point 3): mmengine
0.10.7's pytorch launcher calls ``torch.cuda.set_device`` unconditionally
and its Runner wraps the model with ``device_ids=[LOCAL_RANK]``, both of
which fail on a CPU. The Runner skips its own initialisation when a process
group already exists and honours ``model_wrapper_cfg``, so on a CPU we
initialise gloo ourselves and wrap with ``device_ids=None``. The GPU path is
left to mmengine untouched.
"""
import argparse
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction

__all__ = [
    'add_runner_args', 'parse_runner_args', 'load_run_config', 'setup_cpu_distributed', 'enable_amp'
]


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """The options ``tools/train.py`` and ``tools/test.py`` share:
    ``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value (xxx=yyy format)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser: argparse.ArgumentParser, argv=None):
    """Parse, and export ``LOCAL_RANK`` when the launcher did not."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_run_config(config: str, launcher: str = 'none', cfg_options=None,
                    work_dir: Optional[str] = None) -> Config:
    """Read a config the way ``tools/train.py`` and ``tools/test.py`` do.

    Args:
        config (str): Config file path.
        launcher (str): Job launcher, stored as ``cfg.launcher``.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``; otherwise the config's, or
            ``./work_dirs/<config name>``.
    """
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


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
