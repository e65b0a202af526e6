"""Mixed precision on a CPU: bf16 autocast inside mmengine's optim wrapper.

mmengine's ``AmpOptimWrapper`` asserts a GPU (docs/design.md, "Stack and its
compatibility layer", point 4).
On a CPU, bf16 needs no loss scaling, so a plain :class:`OptimWrapper`
whose ``optim_context`` also enters ``torch.autocast('cpu')`` is enough.
``tools/train.py --amp`` picks mmengine's wrapper on a GPU and this one
otherwise.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

__all__ = ['CPUAutocastOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """Optimizer wrapper that runs forward passes under CPU autocast.

    Args:
        dtype (str): Autocast dtype, ``'bfloat16'`` (default) or
            ``'float16'``.
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs):
        super().__init__(**kwargs)
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f'CPUAutocastOptimWrapper: dtype must be '
                             f"'bfloat16' or 'float16', got {dtype!r}")
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=self.cast_dtype):
            yield
