"""No-target prediction for generalized RIS (gRefCOCO): does the expression
refer to anything in the image?

Not in the paper (ASDA assumes one target per expression): our addition for
GRES-style data, off by default. One logit per expression from WCG's
word-guided fine features F_fine (Eq. 8) and the sentence feature f_E::

    t     = W_E f_E                                             (B, d)
    G     = F_fine * t    (per position, as SFA's Eq. 4)        (B, HW, d)
    logit = MLP([avgpool(G) ; maxpool(G) ; t])                  (B,)

The gating compares every position with what was asked for before pooling;
the max pool then answers "does any position match?", the average pool gives
the context. Trained with a binary
cross-entropy (weight ``loss_weight``); at inference an expression whose
probability sigmoid(logit) exceeds ``threshold`` is predicted "no target"
and gets an empty mask (:class:`asda.ReferringEncoderDecoder`).

Shape letters: B batch, HW tokens, d width of F_fine, D text width.
"""
from typing import Any, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...utils.labels import no_target_label

__all__ = ['NoTargetClassifier', 'gt_no_target']


def gt_no_target(sample: Any) -> bool:
    """Whether a data sample's expression has no target
    (:func:`asda.utils.labels.no_target_label`: metainfo ``no_target``,
    else an empty ground-truth mask)."""
    gt = sample.get('gt_sem_seg')
    has_object = gt is not None and bool((gt.data == 1).any())
    return no_target_label(sample.metainfo.get('no_target'), has_object,
                           f'image {sample.metainfo.get("img_path")}')


class NoTargetClassifier(nn.Module):
    """The no-target logit from F_fine and f_E.

    Args:
        in_channels (int): d, width of F_fine.
        text_channels (int): D, width of f_E.
        hidden_channels (int): Width of the MLP's hidden layer.
        loss_weight (float): Weight of the binary cross-entropy.
        threshold (float): Probability above which an expression is
            predicted "no target".
    """

    def __init__(self, in_channels: int, text_channels: int,
                 hidden_channels: int = 128, loss_weight: float = 1.0,
                 threshold: float = 0.5):
        super().__init__()
        if not 0.0 < threshold < 1.0:
            raise ValueError(f'no_target threshold must be in (0, 1), got {threshold}')
        if loss_weight < 0:
            raise ValueError(f'no_target loss_weight must be >= 0, got {loss_weight}')
        self.loss_weight = loss_weight
        self.threshold = threshold
        self.text_proj = nn.Linear(text_channels, in_channels)
        self.mlp = nn.Sequential(
            nn.LayerNorm(3 * in_channels),
            nn.Linear(3 * in_channels, hidden_channels), nn.GELU(),
            nn.Linear(hidden_channels, 1))

    def forward(self, fine: torch.Tensor, sent: torch.Tensor) -> torch.Tensor:
        """No-target logits.

        Args:
            fine (Tensor): F_fine (B, HW, d).
            sent (Tensor): f_E (B, D).

        Returns:
            Tensor: (B,) logits.
        """
        t = self.text_proj(sent.to(fine.dtype))  # (B, d)
        gated = fine * t[:, None, :]  # (B, HW, d)
        g = torch.cat([gated.mean(dim=1), gated.amax(dim=1), t], dim=-1)  # (B, 3d)
        return self.mlp(g).squeeze(-1)

    def loss(self, logits: torch.Tensor, batch_data_samples: Sequence) -> dict:
        """``loss_no_target`` (weighted BCE) and ``acc_no_target`` (percent
        of expressions whose no-target decision is right)."""
        target = torch.tensor([float(gt_no_target(s)) for s in batch_data_samples],
                              device=logits.device)
        logits = logits.float()
        loss = F.binary_cross_entropy_with_logits(logits, target)
        with torch.no_grad():
            acc = ((logits.sigmoid() > self.threshold) == target.bool()).float().mean()
        return dict(loss_no_target=self.loss_weight * loss,
                    acc_no_target=acc * 100.0)
