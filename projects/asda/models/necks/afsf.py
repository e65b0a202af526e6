"""Adaptive Feature Selection and Fusion (AFSF = AFS + SFA), paper Sec. 3.3.

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
is max-pooled back to the token grid before the 3x3 aggregation.

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
numbers; ``'afs_probs'`` list of the two groups' selection probabilities
(B, G_low) and (B, G_mid). With ``fusion='top'`` the last two are absent.

Layout: the selectors Phi_as and the selection modes live in
:mod:`asda.models.necks.layer_selection`; each fusion (paper SFA, release
SFA, concatenation, top only) is a pair of functions below (one builds its
layers under the names the checkpoints use, one fuses), chosen once in
``AFSF.__init__``, as is the selection mode.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ..layers import Conv1x1ReLU, LayerNorm2d, resize_to
from .layer_selection import SELECTIONS, SELECTORS

__all__ = ['AFSF']

PYRAMIDS = ('paper', 'release')
FUSIONS = ('sfa', 'concat', 'top')


def _rms_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """L2-normalise the last dim and scale to unit RMS (norm sqrt(D))."""
    return F.normalize(x, dim=-1, eps=eps) * (x.shape[-1] ** 0.5)


def _check_args(low_layers, mid_layers, selection, selector, pyramid,
                fusion) -> None:
    """Every argument check of :class:`AFSF`, in one place."""
    for name, value, allowed in (('selection', selection, tuple(SELECTIONS)),
                                 ('selector', selector, tuple(SELECTORS)),
                                 ('pyramid', pyramid, PYRAMIDS),
                                 ('fusion', fusion, FUSIONS)):
        if value not in allowed:
            raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    if fusion != 'top' and (not low_layers or not mid_layers):
        raise ValueError('low_layers and mid_layers need >= 1 candidate')


class _LayerFeatures:
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


# ------------------------------------------------------------------ fusions
# A fusion builds its layers on the neck (their names are the checkpoints'
# keys) and maps (F_G, [F_L, F_M]) to F_coarse (B, d_model, H, W); F_G and the
# selected maps are (B, C, H, W).
class _Fusion(NamedTuple):
    build: Callable[['AFSF', int, int, int], None]
    fuse: Callable[..., torch.Tensor]


def _build_paper_sfa(neck: 'AFSF', C: int, c: int, d_model: int) -> None:
    neck.lateral_top = Conv1x1ReLU(C, c)
    neck.up_low = Conv1x1ReLU(C, c)  # Phi_up's channel reduction
    neck.lateral_mid = Conv1x1ReLU(C, c)
    neck.aggregate = nn.Conv2d(c, d_model, 3, padding=1)


def _paper_sfa(neck: 'AFSF', top: torch.Tensor, low: torch.Tensor,
               mid: torch.Tensor) -> torch.Tensor:
    """Eq. 5: F_L at 1/4 and F_M at 1/2 of the grid, fused bottom-up."""
    low = F.avg_pool2d(low, 4, 4, ceil_mode=True)  # (B, C, H/4, W/4)
    mid = F.avg_pool2d(mid, 2, 2, ceil_mode=True)  # (B, C, H/2, W/2)
    low = resize_to(neck.up_low(low), mid.shape[-2:])  # F_L', (B, c, H/2, W/2)
    mid = neck.lateral_mid(mid) + low  # F_M'
    top = neck.lateral_top(top)  # (B, c, H, W)
    return neck.aggregate(top + resize_to(mid, top.shape[-2:]))


def _build_release_sfa(neck: 'AFSF', C: int, c: int, d_model: int) -> None:
    neck.lateral_top = Conv1x1ReLU(C, c)
    neck.up_low = nn.Sequential(
        nn.ConvTranspose2d(C, c, 2, stride=2), LayerNorm2d(c),
        nn.GELU(), nn.ConvTranspose2d(c, c, 2, stride=2))
    neck.lateral_mid = nn.ConvTranspose2d(C, c, 2, stride=2)
    neck.aggregate = nn.Conv2d(c, d_model, 3, padding=1)


def _release_sfa(neck: 'AFSF', top: torch.Tensor, low: torch.Tensor,
                 mid: torch.Tensor) -> torch.Tensor:
    """The release: F_L at 4x and F_M at 2x, fused top-down, max-pooled."""
    top = neck.lateral_top(top)  # (B, c, H, W)
    mid = neck.lateral_mid(mid)  # (B, c, 2H, 2W)
    mid = mid + resize_to(top, mid.shape[-2:])
    low = neck.up_low(low)  # (B, c, 4H, 4W)
    low = low + resize_to(mid, low.shape[-2:])
    return neck.aggregate(F.max_pool2d(low, 4, 4))  # back to H x W


def _build_concat(neck: 'AFSF', C: int, c: int, d_model: int) -> None:
    neck.project = nn.Conv2d(3 * C, d_model, 1)


def _concat(neck: 'AFSF', top: torch.Tensor, low: torch.Tensor,
            mid: torch.Tensor) -> torch.Tensor:
    """Table 2 (b, c): conv1x1 of the concatenation (B, 3C, H, W)."""
    return neck.project(torch.cat([low, mid, top], dim=1))


def _build_top(neck: 'AFSF', C: int, c: int, d_model: int) -> None:
    neck.project = nn.Conv2d(C, d_model, 1)


def _top(neck: 'AFSF', top: torch.Tensor) -> torch.Tensor:
    """Table 2 (a): conv1x1 of F_G alone."""
    return neck.project(top)


_FUSIONS: Dict[Tuple[str, str], _Fusion] = {
    ('sfa', 'paper'): _Fusion(_build_paper_sfa, _paper_sfa),
    ('sfa', 'release'): _Fusion(_build_release_sfa, _release_sfa),
    ('concat', 'paper'): _Fusion(_build_concat, _concat),
    ('concat', 'release'): _Fusion(_build_concat, _concat),
    ('top', 'paper'): _Fusion(_build_top, _top),
    ('top', 'release'): _Fusion(_build_top, _top),
}


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
            (up-sampled low/mid, max-pooled back).
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
        # layer numbers of the candidates, on the model's device (indexing
        # them needs no host-to-device copy in forward); not in state_dict
        self.register_buffer('low_table', torch.tensor(self.low_layers, dtype=torch.long),
                             persistent=False)
        self.register_buffer('mid_table', torch.tensor(self.mid_layers, dtype=torch.long),
                             persistent=False)
        self.in_channels = in_channels
        self.text_channels = text_channels
        self.d_model = d_model
        self.selection = selection
        self.pyramid = pyramid
        self.fusion = fusion
        self.gumbel_tau = gumbel_tau
        self.score_norm = score_norm
        self._choose = SELECTIONS[selection]
        C, D = in_channels, text_channels
        norm2d = (lambda: LayerNorm2d(C)) if in_norm else nn.Identity

        # AFS: one Phi shared by both groups, one selector per group with a
        # choice (a single candidate is taken as is: None).
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

        # SFA (Eq. 4-5) or the Table 2 fusion variant
        self.top_norm = norm2d()
        self.text_proj = nn.Linear(D, C)
        self.low_norm = norm2d() if with_groups else None
        self.mid_norm = norm2d() if with_groups else None
        fusion_variant = _FUSIONS[(fusion, pyramid)]
        for name in ('project', 'lateral_top', 'up_low', 'lateral_mid',
                     'aggregate'):
            setattr(self, name, None)  # the fusion builds its own
        fusion_variant.build(self, C, lateral_channels, d_model)
        self._fuse = fusion_variant.fuse
        self._afs = _afs if with_groups else _no_afs

    # ------------------------------------------------------------------- AFS
    def _scores(self, sent: torch.Tensor, cls_tokens: torch.Tensor
                ) -> torch.Tensor:
        """Eq. 1: f_E (B, D) and class tokens (B, G, C) -> (B, G, D)."""
        proj = self.cls_proj(self.cls_norm(cls_tokens))
        sent = sent[:, None, :]  # (B, 1, D)
        if self.score_norm:
            proj, sent = _rms_normalize(proj), _rms_normalize(sent)
        return sent * proj

    def _select(self, selector: Optional[nn.Module], candidates: Tuple[int],
                table: torch.Tensor, feats: _LayerFeatures, sent: torch.Tensor):
        """Eq. 2-3 for one group.

        Returns:
            tuple: the selected map (B, C, H, W), the chosen layer numbers
            (B,) and the selection probabilities (B, G).
        """
        maps = feats.maps(candidates)  # (B, G, C, H, W)
        if selector is None:  # one candidate, taken as is
            index = torch.zeros(maps.shape[0], dtype=torch.long,
                                device=maps.device)
            return maps[:, 0], table[index], torch.ones_like(index[:, None],
                                                             dtype=torch.float)
        logits = selector(self._scores(sent, feats.cls(candidates)))
        weights, index = self._choose(logits, self.training, self.gumbel_tau)
        # sum_g w_g * map_g: (B, G, 1, 1, 1) * (B, G, C, H, W) -> (B, C, H, W)
        selected = (weights.to(maps.dtype)[:, :, None, None, None] * maps).sum(1)
        return selected, table[index], logits.float().softmax(dim=-1)

    # --------------------------------------------------------------- forward
    def forward(self, inputs: dict) -> dict:
        """AFS + SFA.

        Args:
            inputs (dict): The backbone's outputs (see
                :class:`asda.CLIPBackbone`).

        Returns:
            dict: see the module docstring.
        """
        feats = _LayerFeatures(inputs)
        sent = inputs['sent_feat']  # (B, D)
        out = dict(word_feats=inputs['word_feats'],
                   word_mask=inputs['word_mask'], sent_feat=sent)

        top = self.top_norm(feats.maps((self.top_layer, ))[:, 0])
        # Eq. 4: F_G = F_H * W f_E, per position
        top = top * self.text_proj(sent).to(top.dtype)[:, :, None, None]
        maps, afs = self._afs(self, feats, sent)
        out.update(feat=self._fuse(self, top, *maps), **afs)
        return out


def _afs(neck: AFSF, feats: _LayerFeatures, sent: torch.Tensor
         ) -> Tuple[List[torch.Tensor], dict]:
    """AFS over the low and mid groups: the two selected maps (B, C, H, W)
    and ``afs_layers`` (B, 2) / ``afs_probs`` [(B, G_low), (B, G_mid)]."""
    low, low_layer, low_probs = neck._select(
        neck.low_selector, neck.low_layers, neck.low_table, feats, sent)
    mid, mid_layer, mid_probs = neck._select(
        neck.mid_selector, neck.mid_layers, neck.mid_table, feats, sent)
    return [neck.low_norm(low), neck.mid_norm(mid)], dict(
        afs_layers=torch.stack([low_layer, mid_layer], dim=1),
        afs_probs=[low_probs, mid_probs])


def _no_afs(neck: AFSF, feats: _LayerFeatures, sent: torch.Tensor
            ) -> Tuple[List[torch.Tensor], dict]:
    """Table 2 (a): no low / mid layers, nothing to report."""
    return [], {}
