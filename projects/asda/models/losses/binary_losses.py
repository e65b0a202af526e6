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
from mmseg.registry import MODELS

__all__ = ['BinaryFocalLoss', 'BinaryDiceLoss', 'binary_focal_loss',
           'binary_dice_loss']


def _flatten(pred: torch.Tensor, target: torch.Tensor, ignore_index: int):
    if pred.dim() == target.dim() + 1 and pred.shape[1] == 1:
        pred = pred.squeeze(1)
    if pred.shape != target.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} differ in shape')
    valid = target != ignore_index
    positive = torch.where(valid, target.float().clamp(0, 1),
                           torch.zeros_like(target, dtype=torch.float))
    return (pred.float().flatten(1), positive.flatten(1),
            valid.float().flatten(1))


def binary_focal_loss(pred: torch.Tensor,
                      target: torch.Tensor,
                      gamma: float = 2.0,
                      alpha: float = 0.25,
                      ignore_index: int = 255) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al.): the mean over each sample's valid
    pixels, then the mean over the batch.

    Averaging per sample weighs every expression alike whatever its padding,
    and makes the loss of a batch the mean of its samples' losses, so a DDP
    step over several ranks equals one step on the union of their batches.

    ``alpha`` weighs the positive pixels (``1 - alpha`` the negative ones);
    a negative ``alpha`` disables the weighting.
    """
    logits, t, valid = _flatten(pred, target, ignore_index)
    ce = F.binary_cross_entropy_with_logits(logits, t, reduction='none')
    p = logits.sigmoid()
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t).pow(gamma)
    if alpha >= 0:
        loss = loss * (alpha * t + (1 - alpha) * (1 - t))
    per_sample = (loss * valid).sum(1) / valid.sum(1).clamp(min=1.0)
    return per_sample.mean()


def binary_dice_loss(pred: torch.Tensor,
                     target: torch.Tensor,
                     smooth: float = 1.0,
                     ignore_index: int = 255) -> torch.Tensor:
    """1 - soft Dice per sample (sigmoid probabilities), batch mean."""
    logits, t, valid = _flatten(pred, target, ignore_index)
    p = logits.sigmoid() * valid
    inter = (p * t).sum(1)
    dice = (2 * inter + smooth) / (p.sum(1) + t.sum(1) + smooth)
    return (1 - dice).mean()


class _BinaryLoss(nn.Module):
    """mmseg's loss-module contract (``loss_weight``, ``loss_name``, the
    ``ignore_index`` keyword) around a loss function ``self._loss``."""

    def __init__(self, loss_weight: float, loss_name: str):
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def _loss(self, pred: torch.Tensor, target: torch.Tensor,
              ignore_index: int) -> torch.Tensor:
        raise NotImplementedError

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> torch.Tensor:
        return self.loss_weight * self._loss(pred, target, ignore_index)

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
    """

    def __init__(self,
                 gamma: float = 2.0,
                 alpha: float = 0.25,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_focal'):
        super().__init__(loss_weight, loss_name)
        self.gamma = gamma
        self.alpha = alpha

    def _loss(self, pred, target, ignore_index):
        return binary_focal_loss(pred, target, self.gamma, self.alpha,
                                 ignore_index)


@MODELS.register_module()
class BinaryDiceLoss(_BinaryLoss):
    """Soft Dice loss on a single-logit map (see :func:`binary_dice_loss`).

    Args:
        smooth (float): Added to numerator and denominator.
        loss_weight (float): Multiplier of the loss.
        loss_name (str): Key in the loss dict (starts with ``loss_``).
    """

    def __init__(self,
                 smooth: float = 1.0,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice'):
        super().__init__(loss_weight, loss_name)
        self.smooth = smooth

    def _loss(self, pred, target, ignore_index):
        return binary_dice_loss(pred, target, self.smooth, ignore_index)
