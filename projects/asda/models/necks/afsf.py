"""Adaptive Feature Selection and Fusion (AFSF = AFS + SFA), paper Sec. 3.3.

Shapes: B batch, C visual width, D text width, H x W token grid, G
candidate layers of a group, c SFA's lateral width (32), d ``d_model``.

AFS (Eq. 1-3). For every candidate layer l of a group (low: 4-6, mid: 7-9
for ViT-B/16) a score token compares the sentence feature f_E with the
layer's class token f_C^l::

    score^l = f_E (*) Phi(f_C^l)                  Phi: Linear C -> D, shared
    logits  = Phi_as([score^l1, score^l2, ...])  one selector per group
    L       = argmax(softmax(logits))             the layer taken for F_L

The paper calls Eq. 1 a cosine similarity; we read it as such: f_E and
Phi(f_C^l) are L2-normalised and scaled to unit RMS before the element-wise
product (``score_norm=True``), so the mean of score^l is their cosine.

The argmax has no gradient. ``selection`` decides how the selector learns:

* ``'straight_through'`` (default): the forward pass takes exactly the
  argmax layer (a one-hot weight); the backward pass uses the softmax's
  gradient, so the selector learns which layer lowers the loss.
* ``'gumbel'``: hard Gumbel-softmax (temperature ``gumbel_tau``) while
  training, argmax at evaluation.
* ``'soft'``: the softmax-weighted mixture of the candidates, in training
  and evaluation (the reported index is the argmax).
* ``'hard'``: plain argmax indexing, the official release's behaviour: no
  gradient reaches the selectors nor Phi, so they never train (their
  parameters stay at initialisation); run it with
  ``find_unused_parameters=True``.

SFA (Eq. 4-5), ``pyramid='paper'``::

    F_G       = LN(F_H) * W f_E                     (Eq. 4, per position)
    F_L~      = avgpool4(LN(F_L)), F_M~ = avgpool2(LN(F_M))  (ceil sizes)
    F_L'      = up(ReLU(conv1x1(F_L~)))  to F_M~'s size (Phi_up, C -> 32)
    F_M'      = ReLU(conv1x1(F_M~)) + F_L'          (Phi_lateral)
    F_coarse  = conv3x3(ReLU(conv1x1(F_G)) + up(F_M'))  32 -> d_model

Pooling is average pooling with ``ceil_mode`` (26 -> 7 and 13); every
up-sampling is bilinear to the exact size of the map it is added to.

``pyramid='release'`` follows the official release instead: the low and mid
features are up-sampled (transposed convolutions, ViTDet style) to 4x and
2x the token grid, fused top-down with F_G (FPN style) and the fused 4x map
is max-pooled back to the token grid before the 3x3 aggregation. The
pyramid is SFA's: another ``fusion`` refuses ``pyramid='release'``.

``fusion`` picks the rows of the paper's Table 2: ``'sfa'`` (default, rows
d-f); ``'concat'``: F_coarse = conv1x1([LN(F_L), LN(F_M), F_G]), the
concatenation-and-projection fusion without multi-scale maps (rows b, c;
row b = manual layers 6 and 9: ``low_layers=(6,)``, ``mid_layers=(9,)``);
``'top'``: F_coarse = conv1x1(F_G) alone (row a, the baseline; no low/mid
layers). A group with one candidate needs no selector, and Phi exists only
when some group has a choice.

Output of :meth:`AFSF.forward` (a dict): ``'feat'`` F_coarse (B, d_model,
H, W); ``'word_feats'``, ``'word_mask'``, ``'sent_feat'`` passed on from the
backbone; ``'afs_layers'`` (B, 2) long, the chosen low and mid layer
numbers (what the tools and the inferencer report), absent with
``fusion='top'``. The selection probabilities are not an output (nothing
uses them); :meth:`AdaptiveSelection.logits` gives the logits they are the
softmax of.

Layout: the selectors Phi_as and the selection modes live in
:mod:`asda.models.necks.layer_selection`. AFS is :class:`AdaptiveSelection`
(:class:`NoSelection` for Table 2 a); each fusion is a small module
(:class:`PaperSFA`, :class:`ReleaseSFA`, :class:`ConcatFusion`,
:class:`TopFusion`). Both are chosen once in ``AFSF.__init__`` and the neck
adopts their layers (:func:`asda.models.layers.adopt`) under the names the
checkpoints use. The generic layers live in :mod:`asda.models.layers`.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ..layers import Conv1x1ReLU, LayerNorm2d, adopt, device_constant, resize_to
from .layer_selection import SELECTIONS, SELECTORS

__all__ = [
    'AFSF', 'LayerFeatures', 'AdaptiveSelection', 'NoSelection', 'PaperSFA',
    'ReleaseSFA', 'ConcatFusion', 'TopFusion'
]

PYRAMIDS = ('paper', 'release')
FUSIONS = ('sfa', 'concat', 'top')


def _rms_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """L2-normalise the last dim and scale to unit RMS (norm sqrt(D))."""
    return F.normalize(x, dim=-1, eps=eps) * (x.shape[-1] ** 0.5)


def _norm2d(channels: int, in_norm: bool) -> nn.Module:
    """LayerNorm of the raw CLIP residual stream, or nothing."""
    return LayerNorm2d(channels) if in_norm else nn.Identity()


def _layer_table(layers: Tuple[int, ...], device) -> torch.Tensor:
    """(G,) long: the candidates' layer numbers, on ``device``."""
    return torch.tensor(layers, dtype=torch.long, device=device)


class LayerFeatures:
    """The backbone's per-layer outputs, looked up by layer number.

    Args:
        inputs (dict): The backbone's dict (``'layers'``, ``'visual_feats'``
            (B, C, H, W) each, ``'cls_tokens'`` (B, C) each).
    """

    def __init__(self, inputs: dict):
        self.layers = list(inputs['layers'])
        self.feats = inputs['visual_feats']
        self.cls_tokens = inputs['cls_tokens']

    def _index(self, wanted: Sequence[int]) -> List[int]:
        try:
            return [self.layers.index(i) for i in wanted]
        except ValueError:
            raise ValueError(f'AFSF needs layers {tuple(wanted)}; the backbone '
                             f'returns {tuple(self.layers)} (out_indices)') from None

    def maps(self, wanted: Sequence[int]) -> torch.Tensor:
        """(B, G, C, H, W): the maps of the ``wanted`` layers."""
        return torch.stack([self.feats[i] for i in self._index(wanted)], dim=1)

    def cls(self, wanted: Sequence[int]) -> torch.Tensor:
        """(B, G, C): the class tokens of the ``wanted`` layers."""
        return torch.stack([self.cls_tokens[i] for i in self._index(wanted)],
                           dim=1)


# ----------------------------------------------------------------------- AFS
class AdaptiveSelection(nn.Module):
    """AFS (Eq. 1-3): one layer of the low group and one of the mid group.

    One Phi (``cls_norm``, ``cls_proj``) shared by both groups, one selector
    Phi_as per group with a choice (``low_selector``, ``mid_selector``); a
    group with one candidate is taken as is (no selector), and Phi exists
    only when some group has a choice.

    Args:
        low_layers (Sequence[int]): Candidates of the low group.
        mid_layers (Sequence[int]): Candidates of the mid group.
        in_channels (int): C.
        text_channels (int): D.
        selector (str): A key of ``SELECTORS`` (Table 5).
        selection (str): A key of ``SELECTIONS`` (see the module docstring).
        gumbel_tau (float): Gumbel-softmax temperature.
        score_norm (bool): Cosine reading of Eq. 1 (see module docstring).
        in_norm (bool): LayerNorm the class tokens first.
    """

    def __init__(self, low_layers: Sequence[int], mid_layers: Sequence[int],
                 in_channels: int, text_channels: int, selector: str,
                 selection: str, gumbel_tau: float, score_norm: bool,
                 in_norm: bool):
        super().__init__()
        C, D = in_channels, text_channels
        self.low_layers, self.mid_layers = tuple(low_layers), tuple(mid_layers)
        self.gumbel_tau = gumbel_tau
        self.score_norm = score_norm
        self._choose = SELECTIONS[selection]  # a function of the logits
        low_choice, mid_choice = len(self.low_layers) > 1, len(self.mid_layers) > 1
        with_phi = low_choice or mid_choice
        self.cls_norm = (nn.LayerNorm(C) if in_norm else nn.Identity()) \
            if with_phi else None
        self.cls_proj = nn.Linear(C, D) if with_phi else None
        make_selector = SELECTORS[selector]
        self.low_selector = make_selector(len(self.low_layers), D) \
            if low_choice else None
        self.mid_selector = make_selector(len(self.mid_layers), D) \
            if mid_choice else None

    def scores(self, sent: torch.Tensor, cls_tokens: torch.Tensor
               ) -> torch.Tensor:
        """Eq. 1: f_E (B, D) and class tokens (B, G, C) -> (B, G, D)."""
        proj = self.cls_proj(self.cls_norm(cls_tokens))
        sent = sent[:, None, :]  # (B, 1, D)
        if self.score_norm:
            proj, sent = _rms_normalize(proj), _rms_normalize(sent)
        return sent * proj

    def logits(self, selector: nn.Module, candidates: Tuple[int, ...],
               feats: LayerFeatures, sent: torch.Tensor) -> torch.Tensor:
        """Eq. 2 before its softmax: Phi_as of the group's scores, (B, G)."""
        return selector(self.scores(sent, feats.cls(candidates)))

    def select(self, selector: Optional[nn.Module],
               candidates: Tuple[int, ...], feats: LayerFeatures,
               sent: torch.Tensor, training: bool
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Eq. 2-3 for one group.

        Returns:
            tuple: the selected map (B, C, H, W) and the chosen layer
            numbers (B,). (The selection probabilities are
            ``softmax(self.logits(...))``; the neck does not output them.)
        """
        maps = feats.maps(candidates)  # (B, G, C, H, W)
        table = device_constant(_layer_table, candidates, maps.device)
        if selector is None:  # one candidate, taken as is
            index = torch.zeros(maps.shape[0], dtype=torch.long,
                                device=maps.device)
            return maps[:, 0], table[index]
        logits = self.logits(selector, candidates, feats, sent)
        weights, index = self._choose(logits, training, self.gumbel_tau)
        # sum_g w_g * map_g: (B, G, 1, 1, 1) * (B, G, C, H, W) -> (B, C, H, W)
        selected = (weights.to(maps.dtype)[:, :, None, None, None] * maps).sum(1)
        return selected, table[index]

    def forward(self, feats: LayerFeatures, sent: torch.Tensor,
                training: bool) -> Tuple[List[torch.Tensor], dict]:
        """The selected F_L and F_M (B, C, H, W), and the report
        ``afs_layers`` (B, 2). ``training`` is the neck's (see
        :func:`asda.models.layers.adopt`)."""
        low, low_layer = self.select(
            self.low_selector, self.low_layers, feats, sent, training)
        mid, mid_layer = self.select(
            self.mid_selector, self.mid_layers, feats, sent, training)
        return [low, mid], dict(
            afs_layers=torch.stack([low_layer, mid_layer], dim=1))


class NoSelection(nn.Module):
    """Table 2 (a): no low / mid group, nothing selected or reported."""

    def forward(self, feats: LayerFeatures, sent: torch.Tensor,
                training: bool) -> Tuple[List[torch.Tensor], dict]:
        return [], {}


# ------------------------------------------------------------------ fusions
# A fusion maps F_G (B, C, H, W) and the selected F_L, F_M (B, C, H, W) to
# F_coarse (B, d, H, W). Arguments: C, c, d and whether F_L / F_M are
# LayerNorm-ed first (``in_norm``); its layers carry the checkpoints' names.
class _SFAInputs(nn.Module):
    """What both SFA pyramids start from: F_L and F_M normalised, F_G's
    lateral conv (built first, in the checkpoints' order)."""

    def __init__(self, in_channels: int, lateral_channels: int, in_norm: bool):
        super().__init__()
        C, c = in_channels, lateral_channels
        self.low_norm = _norm2d(C, in_norm)
        self.mid_norm = _norm2d(C, in_norm)
        self.lateral_top = Conv1x1ReLU(C, c)


class PaperSFA(_SFAInputs):
    """SFA (Eq. 5), ``pyramid='paper'``: F_L at 1/4 and F_M at 1/2 of the
    grid, fused bottom-up (see the module docstring)."""

    def __init__(self, in_channels: int, lateral_channels: int, d_model: int,
                 in_norm: bool = True):
        super().__init__(in_channels, lateral_channels, in_norm)
        C, c = in_channels, lateral_channels
        self.up_low = Conv1x1ReLU(C, c)  # Phi_up's channel reduction
        self.lateral_mid = Conv1x1ReLU(C, c)
        self.aggregate = nn.Conv2d(c, d_model, 3, padding=1)

    def forward(self, top: torch.Tensor, low: torch.Tensor,
                mid: torch.Tensor) -> torch.Tensor:
        low, mid = self.low_norm(low), self.mid_norm(mid)
        low = F.avg_pool2d(low, 4, 4, ceil_mode=True)  # (B, C, H/4, W/4)
        mid = F.avg_pool2d(mid, 2, 2, ceil_mode=True)  # (B, C, H/2, W/2)
        low = resize_to(self.up_low(low), mid.shape[-2:])  # F_L', (B, c, H/2, W/2)
        mid = self.lateral_mid(mid) + low  # F_M'
        top = self.lateral_top(top)  # (B, c, H, W)
        return self.aggregate(top + resize_to(mid, top.shape[-2:]))


class ReleaseSFA(_SFAInputs):
    """SFA as the official release (``pyramid='release'``): F_L at 4x and F_M
    at 2x the grid, fused top-down, max-pooled back to H x W. Arguments as
    :class:`PaperSFA`."""

    def __init__(self, in_channels: int, lateral_channels: int, d_model: int,
                 in_norm: bool = True):
        super().__init__(in_channels, lateral_channels, in_norm)
        C, c = in_channels, lateral_channels
        self.up_low = nn.Sequential(
            nn.ConvTranspose2d(C, c, 2, stride=2), LayerNorm2d(c),
            nn.GELU(), nn.ConvTranspose2d(c, c, 2, stride=2))
        self.lateral_mid = nn.ConvTranspose2d(C, c, 2, stride=2)
        self.aggregate = nn.Conv2d(c, d_model, 3, padding=1)

    def forward(self, top: torch.Tensor, low: torch.Tensor,
                mid: torch.Tensor) -> torch.Tensor:
        low, mid = self.low_norm(low), self.mid_norm(mid)
        top = self.lateral_top(top)  # (B, c, H, W)
        mid = self.lateral_mid(mid)  # (B, c, 2H, 2W)
        mid = mid + resize_to(top, mid.shape[-2:])
        low = self.up_low(low)  # (B, c, 4H, 4W)
        low = low + resize_to(mid, low.shape[-2:])
        return self.aggregate(F.max_pool2d(low, 4, 4))  # back to H x W


class ConcatFusion(nn.Module):
    """Table 2 (b, c): conv1x1 of the concatenation [LN(F_L), LN(F_M), F_G]
    (B, 3C, H, W), no multi-scale maps. Arguments as :class:`PaperSFA`
    (``lateral_channels`` unused)."""

    def __init__(self, in_channels: int, lateral_channels: int, d_model: int,
                 in_norm: bool = True):
        super().__init__()
        self.low_norm = _norm2d(in_channels, in_norm)
        self.mid_norm = _norm2d(in_channels, in_norm)
        self.project = nn.Conv2d(3 * in_channels, d_model, 1)

    def forward(self, top: torch.Tensor, low: torch.Tensor,
                mid: torch.Tensor) -> torch.Tensor:
        low, mid = self.low_norm(low), self.mid_norm(mid)
        return self.project(torch.cat([low, mid, top], dim=1))


class TopFusion(nn.Module):
    """Table 2 (a): conv1x1 of F_G alone (no low / mid layers). Arguments as
    :class:`PaperSFA` (``lateral_channels`` and ``in_norm`` unused)."""

    def __init__(self, in_channels: int, lateral_channels: int, d_model: int,
                 in_norm: bool = True):
        super().__init__()
        self.project = nn.Conv2d(in_channels, d_model, 1)

    def forward(self, top: torch.Tensor) -> torch.Tensor:
        return self.project(top)


# (fusion, pyramid) -> the fusion module; the pyramid is SFA's
_FUSIONS: Dict[Tuple[str, str], type] = {
    ('sfa', 'paper'): PaperSFA,
    ('sfa', 'release'): ReleaseSFA,
    ('concat', 'paper'): ConcatFusion,
    ('top', 'paper'): TopFusion,
}


def _check_args(low_layers, mid_layers, selection, selector, pyramid,
                fusion) -> None:
    """Every argument check of :class:`AFSF`, in one place."""
    for name, value, allowed in (('selection', selection, tuple(SELECTIONS)),
                                 ('selector', selector, tuple(SELECTORS)),
                                 ('pyramid', pyramid, PYRAMIDS),
                                 ('fusion', fusion, FUSIONS)):
        if value not in allowed:
            raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    if (fusion, pyramid) not in _FUSIONS:
        raise ValueError(f"pyramid='{pyramid}' needs fusion='sfa' (the "
                         f"pyramid is SFA's), got fusion='{fusion}'")
    if fusion != 'top' and (not low_layers or not mid_layers):
        raise ValueError('low_layers and mid_layers need >= 1 candidate')


@MODELS.register_module()
class AFSF(BaseModule):
    """Adaptive Feature Selection (AFS) and Scale-wise Feature Aggregator.

    Args:
        in_channels (int): Visual width C (768 for ViT-B/16).
        text_channels (int): Text feature width D (512 for ViT-B/16).
        low_layers (Sequence[int]): Candidate layers of the low group.
        mid_layers (Sequence[int]): Candidate layers of the mid group.
        top_layer (int): The highest-level layer F_H.
        d_model (int): Width of F_coarse (the head's working width).
        lateral_channels (int): SFA's reduced width (32 in the paper).
        selection (str): ``'straight_through'``, ``'gumbel'``, ``'soft'`` or
            ``'hard'`` (see the module docstring).
        selector (str): ``'linear'``, ``'conv'`` or ``'mlp'`` (Table 5).
        pyramid (str): ``'paper'`` (down-sampled low/mid) or ``'release'``
            (up-sampled low/mid, max-pooled back; ``fusion='sfa'`` only).
        fusion (str): ``'sfa'``, ``'concat'`` or ``'top'`` (Table 2 rows,
            see the module docstring).
        gumbel_tau (float): Gumbel-softmax temperature.
        score_norm (bool): Cosine reading of Eq. 1 (see module docstring).
        in_norm (bool): LayerNorm the class tokens and the low/mid/top
            visual features (the raw CLIP residual stream) first.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int = 768,
                 text_channels: int = 512,
                 low_layers: Sequence[int] = (4, 5, 6),
                 mid_layers: Sequence[int] = (7, 8, 9),
                 top_layer: int = 12,
                 d_model: int = 256,
                 lateral_channels: int = 32,
                 selection: str = 'straight_through',
                 selector: str = 'linear',
                 pyramid: str = 'paper',
                 fusion: str = 'sfa',
                 gumbel_tau: float = 1.0,
                 score_norm: bool = True,
                 in_norm: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        _check_args(low_layers, mid_layers, selection, selector, pyramid,
                    fusion)
        with_groups = fusion != 'top'  # the Table 2 (a) baseline has none
        self.low_layers = tuple(int(i) for i in low_layers or ()) \
            if with_groups else ()
        self.mid_layers = tuple(int(i) for i in mid_layers or ()) \
            if with_groups else ()
        self.top_layer = int(top_layer)
        self.in_channels = in_channels
        self.text_channels = text_channels
        self.d_model = d_model
        self.selection = selection
        self.pyramid = pyramid
        self.fusion = fusion
        self.gumbel_tau = gumbel_tau
        self.score_norm = score_norm
        C, D = in_channels, text_channels
        # AFS (Eq. 1-3), kept as self.select_layers
        adopt(self, 'select_layers', AdaptiveSelection(
            self.low_layers, self.mid_layers, C, D, selector, selection,
            gumbel_tau, score_norm, in_norm) if with_groups else NoSelection())
        # SFA (Eq. 4-5) or the Table 2 fusion, kept as self.fuse
        self.top_norm = _norm2d(C, in_norm)
        self.text_proj = nn.Linear(D, C)
        adopt(self, 'fuse', _FUSIONS[(fusion, pyramid)](
            C, lateral_channels, d_model, in_norm))

    def forward(self, inputs: dict) -> dict:
        """AFS + SFA.

        Args:
            inputs (dict): The backbone's outputs (see
                :class:`asda.CLIPBackbone`).

        Returns:
            dict: see the module docstring.
        """
        feats = LayerFeatures(inputs)
        sent = inputs['sent_feat']  # (B, D)
        out = dict(word_feats=inputs['word_feats'],
                   word_mask=inputs['word_mask'], sent_feat=sent)

        top = self.top_norm(feats.maps((self.top_layer, ))[:, 0])
        # Eq. 4: F_G = F_H * W f_E, per position
        top = top * self.text_proj(sent).to(top.dtype)[:, :, None, None]
        maps, afs = self.select_layers(feats, sent, self.training)
        out.update(feat=self.fuse(top, *maps), **afs)
        return out
