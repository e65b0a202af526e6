"""AFS's layer choice (paper Eq. 2-3): the selector networks and the modes.

Shapes: B batch, G candidate layers of a group, D text width.

Selectors Phi_as (Table 5) map the G score tokens (B, G, D) of a group to G
selection logits (B, G):

* :class:`LinearSelector` (the paper's): one Linear over the concatenated
  scores;
* :class:`MLPSelector`: Linear - ReLU - Linear (hidden D);
* :class:`ConvSelector`: the candidates as a length-G sequence with D
  channels, Conv1d(k=3) - ReLU - Conv1d(k=1), one logit per candidate.

Selection modes turn the logits into the weights (B, G) that mix the
candidate maps, and the chosen index (B,). The argmax has no gradient; the
mode decides how the selector learns (see :mod:`asda.models.necks.afsf`):
``'straight_through'``, ``'gumbel'``, ``'soft'`` and ``'hard'``.
"""
from typing import Callable, Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['LinearSelector', 'MLPSelector', 'ConvSelector', 'SELECTORS',
           'SELECTIONS']


class LinearSelector(nn.Module):
    """Phi_as = Linear(G * D -> G) over the concatenated score tokens."""

    def __init__(self, num_candidates: int, channels: int):
        super().__init__()
        self.net = nn.Linear(num_candidates * channels, num_candidates)

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """(B, G, D) score tokens -> (B, G) logits."""
        return self.net(scores.flatten(1))  # (B, G * D)


class MLPSelector(nn.Module):
    """Phi_as = Linear(G * D -> D) - ReLU - Linear(D -> G)."""

    def __init__(self, num_candidates: int, channels: int):
        super().__init__()
        G, D = num_candidates, channels
        self.net = nn.Sequential(
            nn.Linear(G * D, D), nn.ReLU(inplace=True), nn.Linear(D, G))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """(B, G, D) score tokens -> (B, G) logits."""
        return self.net(scores.flatten(1))  # (B, G * D)


class ConvSelector(nn.Module):
    """Phi_as = Conv1d(D -> max(D/4, 8), k=3) - ReLU - Conv1d(-> 1, k=1)
    along the G candidates."""

    def __init__(self, num_candidates: int, channels: int):
        super().__init__()
        hidden = max(channels // 4, 8)
        self.net = nn.Sequential(
            nn.Conv1d(channels, hidden, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv1d(hidden, 1, 1))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """(B, G, D) score tokens -> (B, G) logits."""
        # (B, D, G) -> (B, 1, G) -> (B, G)
        return self.net(scores.transpose(1, 2)).squeeze(1)


SELECTORS: Dict[str, type] = dict(
    linear=LinearSelector, mlp=MLPSelector, conv=ConvSelector)

Selection = Callable[[torch.Tensor, bool, float],
                     Tuple[torch.Tensor, torch.Tensor]]


def _one_hot(index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) indices -> (B, G) one-hot rows of ``like``'s dtype. A scatter:
    ``F.one_hot`` reads the largest index back to the host (a GPU sync)."""
    return torch.zeros_like(like).scatter_(-1, index[:, None], 1.0)


def straight_through(logits: torch.Tensor, training: bool, tau: float
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Forward: the argmax layer (one-hot); backward: the softmax gradient.

    Args:
        logits (Tensor): (B, G) selection logits.
        training (bool): Whether the module trains.
        tau (float): Unused (the signature of every mode).

    Returns:
        tuple: weights (B, G) and the chosen index (B,).
    """
    probs = logits.float().softmax(dim=-1)
    index = logits.argmax(dim=-1)
    one_hot = _one_hot(index, probs)
    if not training:
        return one_hot, index
    return one_hot - probs.detach() + probs, index


def gumbel(logits: torch.Tensor, training: bool, tau: float
           ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Hard Gumbel-softmax (temperature ``tau``) in training, the argmax
    otherwise. Same arguments and returns as :func:`straight_through`."""
    if not training:
        index = logits.argmax(dim=-1)
        return _one_hot(index, logits.float()), index
    weights = F.gumbel_softmax(logits.float(), tau=tau, hard=True)
    return weights, weights.argmax(dim=-1)


def soft(logits: torch.Tensor, training: bool, tau: float
         ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The softmax mixture of the candidates (the index is the argmax).
    Same arguments and returns as :func:`straight_through`."""
    return logits.float().softmax(dim=-1), logits.argmax(dim=-1)


def hard(logits: torch.Tensor, training: bool, tau: float
         ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Plain argmax, no gradient to the selector (the official release).
    Same arguments and returns as :func:`straight_through`."""
    index = logits.argmax(dim=-1)
    return _one_hot(index, logits.float()), index


SELECTIONS: Dict[str, Selection] = dict(
    straight_through=straight_through, gumbel=gumbel, soft=soft, hard=hard)
