"""Binary (single-logit) segmentation losses with an ignore label.

Both take logits (B, h, w) or (B, 1, h, w) and a target (B, h, w) holding
0 (background), 1 (the referred object) and ``ignore_index`` (padding);
ignored pixels contribute nothing. A floating-point target may also hold
soft values in [0, 1] (an area-downsampled mask). mmseg's own ``FocalLoss`` / ``DiceLoss``
expect one channel per class, hence these two.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.losses.utils import weight_reduce_loss
from mmseg.registry import MODELS

__all__ = ['BinaryFocalLoss', 'BinaryDiceLoss', 'binary_focal_loss',
           'binary_dice_loss']


def _flatten(pred: torch.Tensor, target: torch.Tensor, ignore_index: int,
             weight: Optional[torch.Tensor] = None):
    """Logits, soft targets, valid mask and pixel weights, each (B, N);
    the per-sample weights (B,) or None.

    ``weight`` is None, per sample (B,), or per pixel (the target's shape,
    or (B, 1, h, w)).
    """
    if pred.dim() == target.dim() + 1 and pred.shape[1] == 1:
        pred = pred.squeeze(1)
    if pred.shape != target.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} differ in shape')
    valid = target != ignore_index
    positive = torch.where(valid, target.float().clamp(0, 1),
                           torch.zeros_like(target, dtype=torch.float))
    pixel_weight = valid.float().flatten(1)
    sample_weight = None
    if weight is not None:
        weight = weight.float()
        if weight.dim() == target.dim() + 1 and weight.shape[1] == 1:
            weight = weight.squeeze(1)
        if weight.shape == (target.shape[0], ):
            sample_weight = weight
        elif weight.shape == target.shape:
            pixel_weight = pixel_weight * weight.flatten(1)
        else:
            raise ValueError(f'loss weight {tuple(weight.shape)}: expected '
                             f'per sample ({target.shape[0]},) or per pixel '
                             f'{tuple(target.shape)}')
    return (pred.float().flatten(1), positive.flatten(1), valid.float().flatten(1),
            pixel_weight, sample_weight)


def binary_focal_loss(pred: torch.Tensor,
                      target: torch.Tensor,
                      gamma: float = 2.0,
                      alpha: float = 0.25,
                      ignore_index: int = 255,
                      weight: Optional[torch.Tensor] = None,
                      reduction: str = 'mean',
                      avg_factor: Optional[float] = None) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al.): the mean over each sample's valid
    pixels, then reduced over the batch (mmseg's ``weight_reduce_loss``).

    Averaging per sample weighs every expression alike whatever its padding,
    and makes the loss of a batch the mean of its samples' losses, so a DDP
    step over several ranks equals one step on the union of their batches.

    ``alpha`` weighs the positive pixels (``1 - alpha`` the negative ones);
    a negative ``alpha`` disables the weighting. ``weight``: per-sample (B,)
    weights of the sample losses, or per-pixel weights (the target's shape)
    of the pixel losses (a sample's mean still divides by its valid pixel
    count). ``reduction`` ('mean', 'sum', 'none') and ``avg_factor`` (the
    divisor of a 'mean') act on the (B,) sample losses, as in mmseg.
    """
    logits, t, valid, pixel_weight, sample_weight = _flatten(
        pred, target, ignore_index, weight)
    ce = F.binary_cross_entropy_with_logits(logits, t, reduction='none')
    p = logits.sigmoid()
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t).pow(gamma)
    if alpha >= 0:
        loss = loss * (alpha * t + (1 - alpha) * (1 - t))
    per_sample = (loss * pixel_weight).sum(1) / valid.sum(1).clamp(min=1.0)
    return weight_reduce_loss(per_sample, sample_weight, reduction, avg_factor)


def binary_dice_loss(pred: torch.Tensor,
                     target: torch.Tensor,
                     smooth: float = 1.0,
                     ignore_index: int = 255,
                     weight: Optional[torch.Tensor] = None,
                     reduction: str = 'mean',
                     avg_factor: Optional[float] = None) -> torch.Tensor:
    """1 - soft Dice per sample (sigmoid probabilities), reduced over the
    batch. ``weight``: per-sample (B,) weights of the sample losses, or
    per-pixel weights (the target's shape) inside each sample's Dice sums;
    ``reduction`` and ``avg_factor`` as in :func:`binary_focal_loss`."""
    logits, t, _, pixel_weight, sample_weight = _flatten(
        pred, target, ignore_index, weight)
    p = logits.sigmoid()
    inter = (pixel_weight * p * t).sum(1)
    dice = (2 * inter + smooth) / (
        (pixel_weight * p).sum(1) + (pixel_weight * t).sum(1) + smooth)
    return weight_reduce_loss(1 - dice, sample_weight, reduction, avg_factor)


class _BinaryLoss(nn.Module):
    """mmseg's loss-module contract (``loss_weight``, ``loss_name``,
    ``reduction``; ``weight``, ``avg_factor``, ``reduction_override`` and
    ``ignore_index`` keywords) around a loss function ``self._loss``."""

    def __init__(self, loss_weight: float, loss_name: str,
                 reduction: str = 'mean'):
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', "
                             f'got {reduction!r}')
        self.loss_weight = loss_weight
        self.reduction = reduction
        self._loss_name = loss_name

    def _loss(self, pred: torch.Tensor, target: torch.Tensor,
              ignore_index: int, **reduce_args) -> torch.Tensor:
        raise NotImplementedError

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                ignore_index: int = 255,
                **kwargs) -> torch.Tensor:
        """Args: ``pred`` (B, [1,] h, w) logits, ``target`` (B, h, w),
        ``weight`` None, (B,) or per pixel (see :func:`binary_focal_loss`)."""
        reduction = reduction_override or self.reduction
        return self.loss_weight * self._loss(
            pred, target, ignore_index, weight=weight, reduction=reduction,
            avg_factor=avg_factor)

    @property
    def loss_name(self) -> str:
        return self._loss_name


@MODELS.register_module()
class BinaryFocalLoss(_BinaryLoss):
    """Sigmoid focal loss on a single-logit map (see
    :func:`binary_focal_loss`).

    Args:
        gamma (float): Focusing parameter.
        alpha (float): Positive-pixel weight (negative: none).
        loss_weight (float): Multiplier of the loss.
        loss_name (str): Key in the loss dict (starts with ``loss_``).
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'`` over the
            per-sample losses.
    """

    def __init__(self,
                 gamma: float = 2.0,
                 alpha: float = 0.25,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_focal',
                 reduction: str = 'mean'):
        super().__init__(loss_weight, loss_name, reduction)
        self.gamma = gamma
        self.alpha = alpha

    def _loss(self, pred, target, ignore_index, **reduce_args):
        return binary_focal_loss(pred, target, self.gamma, self.alpha,
                                 ignore_index, **reduce_args)


@MODELS.register_module()
class BinaryDiceLoss(_BinaryLoss):
    """Soft Dice loss on a single-logit map (see :func:`binary_dice_loss`).

    Args:
        smooth (float): Added to numerator and denominator.
        loss_weight (float): Multiplier of the loss.
        loss_name (str): Key in the loss dict (starts with ``loss_``).
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'`` over the
            per-sample losses.
    """

    def __init__(self,
                 smooth: float = 1.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice',
                 reduction: str = 'mean'):
        super().__init__(loss_weight, loss_name, reduction)
        self.smooth = smooth

    def _loss(self, pred, target, ignore_index, **reduce_args):
        return binary_dice_loss(pred, target, self.smooth, ignore_index,
                                **reduce_args)
