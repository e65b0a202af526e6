"""The labels a referring sample carries beside its mask, each decided by one
rule that the data, the models and the metrics ask.

:func:`no_target_label`: whether a sample's expression has no target
(generalized RIS, gRefCOCO). :class:`asda.GRefCOCODataset` sets a sample's
``no_target``; the no-target loss (:mod:`asda.models.decode_heads.no_target`)
and :class:`asda.GRESMetric` read it through this rule.
"""
from typing import Any

import numpy as np

__all__ = ['no_target_label']


def no_target_label(flag: Any, has_object: bool, where: str = '') -> bool:
    """Whether a sample's expression has no target: its metainfo
    ``no_target`` (``flag``; :class:`asda.GRefCOCODataset` sets it), else
    whether its ground-truth mask is empty (``has_object`` False), as GRES
    defines it. The one owner of this rule: the no-target loss and
    :class:`asda.GRESMetric` ask it.

    Raises:
        ValueError: ``flag`` is not a bool (or 0 / 1), or it says no target
            while the mask has an object (``where`` names the sample).
    """
    if flag is None:
        return not has_object
    if hasattr(flag, 'numel') and flag.numel() == 1:  # a tensor
        flag = flag.item()
    if not isinstance(flag, (bool, np.bool_)) and flag not in (0, 1):
        raise ValueError(f'no_target must be a bool, got {flag!r} ({where})')
    if flag and has_object:
        raise ValueError(f'no_target is True but the ground-truth mask has an '
                         f'object ({where})')
    return bool(flag)
