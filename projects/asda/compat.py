"""Compatibility layer for the pinned stack, applied on ``import asda``.

Three points of the pinned stack are absorbed here (see ``docs/design.md``,
"Stack and its compatibility layer"):

1. mmsegmentation 1.2.2 imports ``point_sample`` and ``sigmoid_focal_loss``
   from ``mmcv.ops`` when its modules load. With ``mmcv-lite`` (no compiled
   ops) that import fails and ``import mmseg.models`` dies. When, and only
   when, the compiled ops are missing, :func:`apply_mmcv_ops_fallback`
   installs a small ``mmcv.ops`` module that provides pure-PyTorch versions
   of those two functions; every other name raises ``ModuleNotFoundError``
   (mmseg guards its optional ops with ``except ModuleNotFoundError``), and
   dunder look-ups raise ``AttributeError`` as Python expects. With a full
   mmcv nothing is replaced.
2. torch >= 2.6 loads checkpoints with ``weights_only=True``. mmengine
   0.10.7 checkpoints hold numpy values and ``HistoryBuffer`` objects, so
   ``--resume`` fails. :func:`allow_mmengine_checkpoint_types` allow-lists
   exactly those types with ``torch.serialization.add_safe_globals``;
   ``weights_only`` itself is never switched off.
3. Without compiled ops, mmcv warns as mmseg loads its models that
   ``MultiScaleDeformableAttention`` is missing, a warning the user of
   mmcv-lite cannot act on; :func:`quiet_mmcv_lite_warning` filters that one
   message.
"""
import importlib
import inspect
import pickle
import re
import sys
import types
import warnings
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    'point_sample', 'sigmoid_focal_loss', 'compiled_mmcv_ops_available',
    'apply_mmcv_ops_fallback', 'mmengine_checkpoint_safe_globals',
    'allow_mmengine_checkpoint_types', 'MMCV_LITE_WARNING', 'quiet_mmcv_lite_warning',
    'apply'
]


def point_sample(input: torch.Tensor,
                 points: torch.Tensor,
                 align_corners: bool = False,
                 **kwargs) -> torch.Tensor:
    """Sample ``input`` at normalised points (``mmcv.ops.point_sample``).

    Args:
        input (Tensor): Feature map, shape (N, C, H, W).
        points (Tensor): Point coordinates in ``[0, 1] x [0, 1]`` (x, y),
            shape (N, P, 2) or (N, Hg, Wg, 2).
        align_corners (bool): Passed to :func:`F.grid_sample`.
        **kwargs: Further :func:`F.grid_sample` arguments.

    Returns:
        Tensor: Sampled features, (N, C, P) or (N, C, Hg, Wg).
    """
    flat = points.dim() == 3
    if flat:
        points = points.unsqueeze(2)  # (N, P, 2) -> (N, P, 1, 2)
    # grid_sample expects coordinates in [-1, 1].
    out = F.grid_sample(
        input, points * 2.0 - 1.0, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if flat else out


def sigmoid_focal_loss(input: torch.Tensor,
                       target: torch.Tensor,
                       gamma: float = 2.0,
                       alpha: float = 0.25,
                       weight: Optional[torch.Tensor] = None,
                       reduction: str = 'mean') -> torch.Tensor:
    """Sigmoid focal loss with mmcv's argument conventions.

    Args:
        input (Tensor): Logits, shape (N, K).
        target (Tensor): Class indices, shape (N,), dtype long; an index of
            K (or any value outside ``[0, K)``) means "no positive class".
        gamma (float): Focusing parameter.
        alpha (float): Weight of the positive term (``1 - alpha`` for the
            negative term).
        weight (Tensor, optional): Per-class weights, shape (K,); each row
            is scaled by the weight of its target class, as mmcv's kernel
            does.
        reduction (str): ``'none'`` (N, K), ``'sum'`` or ``'mean'`` (the
            sum divided by N, as mmcv does).

    Returns:
        Tensor: The loss.
    """
    if input.dim() != 2 or target.dim() != 1 or \
            input.size(0) != target.size(0):
        raise ValueError('sigmoid_focal_loss expects input (N, K) and '
                         f'target (N,), got {tuple(input.shape)} and '
                         f'{tuple(target.shape)}')
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError(f'unknown reduction {reduction!r}')
    num_classes = input.size(1)
    classes = torch.arange(num_classes, device=input.device)
    # (N,) -> (N, K) one-hot; out-of-range targets give an all-zero row.
    onehot = (target.unsqueeze(1) == classes).to(input.dtype)
    prob = input.sigmoid()
    ce = F.binary_cross_entropy_with_logits(input, onehot, reduction='none')
    p_t = prob * onehot + (1 - prob) * (1 - onehot)
    alpha_t = alpha * onehot + (1 - alpha) * (1 - onehot)
    loss = alpha_t * (1 - p_t).pow(gamma) * ce
    if weight is not None:
        valid = (target >= 0) & (target < num_classes)
        row_w = weight[target.clamp(0, num_classes - 1)] * valid
        loss = loss * row_w.unsqueeze(1).to(loss.dtype)
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    if reduction == 'sum':
        return loss.sum()
    return loss


_FALLBACK_NAMES = {
    'point_sample': point_sample,
    'sigmoid_focal_loss': sigmoid_focal_loss,
}


class _FallbackOps(types.ModuleType):
    """Stand-in for ``mmcv.ops`` when mmcv's compiled ops are missing."""

    def __getattr__(self, name: str):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f'mmcv.ops.{name} needs the compiled mmcv ops, which are not '
            'installed (mmcv-lite). asda provides only point_sample and '
            'sigmoid_focal_loss; install the full mmcv (`mim install '
            'mmcv==2.1.0`) for the others.',
            name='mmcv.ops')


def compiled_mmcv_ops_available() -> bool:
    """Whether mmcv's compiled extension (``mmcv._ext``) imports."""
    try:
        importlib.import_module('mmcv._ext')
    except ImportError:
        return False
    return True


def apply_mmcv_ops_fallback() -> bool:
    """Install the pure-PyTorch ``mmcv.ops`` if the compiled ops are missing.

    Returns:
        bool: True if the fallback module was installed (or already was),
        False if the real ops are present and nothing was replaced.

    Raises:
        ImportError: if mmcv itself is not installed.
    """
    try:
        mmcv = importlib.import_module('mmcv')
    except ImportError as err:
        raise ImportError(
            'asda needs mmcv: install `mmcv-lite==2.1.0` (pure Python, CPU '
            'or GPU) or the full `mmcv==2.1.0` (`mim install mmcv==2.1.0`)'
        ) from err
    current = sys.modules.get('mmcv.ops')
    if isinstance(current, _FallbackOps):
        return True
    if compiled_mmcv_ops_available():
        return False
    ops = _FallbackOps(
        'mmcv.ops', 'asda.compat: pure-PyTorch point_sample and '
        'sigmoid_focal_loss; other mmcv ops are unavailable (mmcv-lite).')
    ops.__dict__.update(_FALLBACK_NAMES)
    ops.__all__ = list(_FALLBACK_NAMES)
    # Drop half-imported submodules of a failed ``import mmcv.ops``.
    for key in [k for k in sys.modules if k.startswith('mmcv.ops.')]:
        del sys.modules[key]
    sys.modules['mmcv.ops'] = ops
    mmcv.ops = ops
    return True


def _history_buffer_getattr(obj, name: str):
    """``getattr`` restricted to HistoryBuffer's statistics methods.

    ``HistoryBuffer._statistics_methods`` maps names to its own methods, which
    pickle as ``getattr(HistoryBuffer, 'min')``. Allowing the real
    ``builtins.getattr`` would let a checkpoint fetch any attribute of any
    allowed object, so this stand-in answers only that one pattern.
    """
    from mmengine.logging import HistoryBuffer

    if obj is HistoryBuffer and not name.startswith('_') and \
            inspect.isfunction(HistoryBuffer.__dict__.get(name)):
        return HistoryBuffer.__dict__[name]
    raise pickle.UnpicklingError(
        f'refused getattr({obj!r}, {name!r}) in checkpoint: only '
        'HistoryBuffer statistics methods may be looked up')


def mmengine_checkpoint_safe_globals() -> List:
    """The non-tensor types an mmengine 0.10.x checkpoint holds.

    A Runner checkpoint stores the message hub (``HistoryBuffer`` objects
    holding numpy arrays) and numpy scalars in its meta. These are the
    classes and reconstruction functions needed to load it with
    ``weights_only=True``; nothing that can run arbitrary code.
    """
    from mmengine.logging import HistoryBuffer
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray

    dtypes = [
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
        np.uint16, np.uint32, np.uint64, np.float16, np.float32, np.float64,
        np.str_
    ]
    safe = [
        HistoryBuffer, np.ndarray, np.dtype, multiarray.scalar,
        multiarray._reconstruct
    ]
    safe += [type(np.dtype(t)) for t in dtypes]
    # numpy 2 still pickles these under their numpy 1 module path.
    safe += [(multiarray.scalar, 'numpy.core.multiarray.scalar'),
             (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct')]
    safe.append((_history_buffer_getattr, 'builtins.getattr'))
    return safe


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list mmengine's checkpoint types for ``weights_only`` loading."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 loads with weights_only=False anyway
        add(mmengine_checkpoint_safe_globals())


#: The start of the warning mmcv's transformer bricks give, as mmseg loads
#: its models, when mmcv has no compiled ops (mmcv-lite).
MMCV_LITE_WARNING = 'Fail to import ``MultiScaleDeformableAttention``'


def quiet_mmcv_lite_warning() -> None:
    """Filter :data:`MMCV_LITE_WARNING`, once the compiled ops are known to
    be missing (called by :func:`apply`, before mmseg is imported).

    Why: ``import mmseg.models`` imports ``mmcv.cnn.bricks.transformer``,
    which, without compiled ops, warns that ``MultiScaleDeformableAttention``
    is missing and that full mmcv should be installed "if you need this
    module". Every tool would print it at start. Neither asda nor the mmseg
    parts it uses need that op, and mmcv-lite is the pinned stack on purpose
    (``docs/design.md``, Stack), so the user cannot act on it. The filter
    matches that one message: a model that does need the op still fails
    with mmcv's ``ModuleNotFoundError`` where it is built.
    """
    warnings.filterwarnings('ignore', message=re.escape(MMCV_LITE_WARNING),
                            category=UserWarning)


def apply() -> None:
    """Apply every compatibility fix (called by ``import asda``)."""
    if not compiled_mmcv_ops_available():
        quiet_mmcv_lite_warning()
    apply_mmcv_ops_fallback()
    allow_mmengine_checkpoint_types()
