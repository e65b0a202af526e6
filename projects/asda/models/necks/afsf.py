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
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS

__all__ = ['AFSF', 'LayerSelector']

SELECTIONS = ('straight_through', 'gumbel', 'soft', 'hard')
SELECTORS = ('linear', 'conv', 'mlp')
PYRAMIDS = ('paper', 'release')
FUSIONS = ('sfa', 'concat', 'top')


def _rms_normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """L2-normalise the last dim and scale to unit RMS (norm sqrt(D))."""
    return F.normalize(x, dim=-1, eps=eps) * (x.shape[-1] ** 0.5)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)


class LayerSelector(nn.Module):
    """Phi_as: G score tokens (B, G, D) -> G selection logits (B, G).

    ``'linear'`` (the paper's choice): one Linear over the concatenated
    scores. ``'mlp'``: Linear - ReLU - Linear (hidden D). ``'conv'``: the
    candidates as a length-G sequence with D channels, Conv1d(k=3) - ReLU -
    Conv1d(k=1), one logit per candidate (Table 5).
    """

    def __init__(self, num_candidates: int, channels: int, kind: str = 'linear'):
        super().__init__()
        if kind not in SELECTORS:
            raise ValueError(f'selector must be one of {SELECTORS}, got {kind!r}')
        self.kind = kind
        G, D = num_candidates, channels
        if kind == 'linear':
            self.net = nn.Linear(G * D, G)
        elif kind == 'mlp':
            self.net = nn.Sequential(
                nn.Linear(G * D, D), nn.ReLU(inplace=True), nn.Linear(D, G))
        else:
            hidden = max(D // 4, 8)
            self.net = nn.Sequential(
                nn.Conv1d(D, hidden, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv1d(hidden, 1, 1))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        if self.kind == 'conv':
            return self.net(scores.transpose(1, 2)).squeeze(1)
        return self.net(scores.flatten(1))


class _Conv1x1ReLU(nn.Sequential):

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 1), nn.ReLU(inplace=True))


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


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
        if selection not in SELECTIONS:
            raise ValueError(f'selection must be one of {SELECTIONS}, '
                             f'got {selection!r}')
        if pyramid not in PYRAMIDS:
            raise ValueError(f'pyramid must be one of {PYRAMIDS}, got {pyramid!r}')
        if fusion not in FUSIONS:
            raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}')
        self.low_layers = tuple(int(i) for i in low_layers or ())
        self.mid_layers = tuple(int(i) for i in mid_layers or ())
        self.top_layer = int(top_layer)
        if fusion != 'top' and (not self.low_layers or not self.mid_layers):
            raise ValueError('low_layers and mid_layers need >= 1 candidate')
        self.in_channels = in_channels
        self.text_channels = text_channels
        self.d_model = d_model
        self.selection = selection
        self.pyramid = pyramid
        self.fusion = fusion
        self.gumbel_tau = gumbel_tau
        self.score_norm = score_norm
        C, D, c = in_channels, text_channels, lateral_channels

        # AFS: one Phi shared by both groups, one selector per group with a
        # choice (a single candidate is taken as is).
        groups = () if fusion == 'top' else (self.low_layers, self.mid_layers)
        if any(len(g) > 1 for g in groups):
            self.cls_norm = nn.LayerNorm(C) if in_norm else nn.Identity()
            self.cls_proj = nn.Linear(C, D)
        if len(self.low_layers) > 1 and fusion != 'top':
            self.low_selector = LayerSelector(len(self.low_layers), D, selector)
        if len(self.mid_layers) > 1 and fusion != 'top':
            self.mid_selector = LayerSelector(len(self.mid_layers), D, selector)

        # SFA
        self.top_norm = LayerNorm2d(C) if in_norm else nn.Identity()
        self.text_proj = nn.Linear(D, C)
        if fusion == 'top':
            self.project = nn.Conv2d(C, d_model, 1)
            return
        self.low_norm = LayerNorm2d(C) if in_norm else nn.Identity()
        self.mid_norm = LayerNorm2d(C) if in_norm else nn.Identity()
        if fusion == 'concat':
            self.project = nn.Conv2d(3 * C, d_model, 1)
            return
        self.lateral_top = _Conv1x1ReLU(C, c)
        if pyramid == 'paper':
            self.up_low = _Conv1x1ReLU(C, c)  # Phi_up's channel reduction
            self.lateral_mid = _Conv1x1ReLU(C, c)
        else:
            self.up_low = nn.Sequential(
                nn.ConvTranspose2d(C, c, 2, stride=2), LayerNorm2d(c),
                nn.GELU(), nn.ConvTranspose2d(c, c, 2, stride=2))
            self.lateral_mid = nn.ConvTranspose2d(C, c, 2, stride=2)
        self.aggregate = nn.Conv2d(c, d_model, 3, padding=1)

    # ------------------------------------------------------------------- AFS
    def _scores(self, sent: torch.Tensor,
                cls_tokens: Sequence[torch.Tensor]) -> torch.Tensor:
        """Eq. 1: (B, G, D) score tokens."""
        proj = self.cls_proj(self.cls_norm(torch.stack(cls_tokens, dim=1)))
        sent = sent[:, None, :]
        if self.score_norm:
            proj, sent = _rms_normalize(proj), _rms_normalize(sent)
        return sent * proj

    def _select(self, logits: torch.Tensor, feats: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Eq. 2: the selected map (B, C, H, W), index (B,), probs (B, G)."""
        probs = logits.float().softmax(dim=-1)
        index = logits.argmax(dim=-1)
        stack = torch.stack(list(feats), dim=1)  # (B, G, C, H, W)
        weights = None
        if self.selection == 'soft':
            weights = probs
        elif self.training and self.selection == 'straight_through':
            one_hot = F.one_hot(index, probs.shape[-1]).to(probs)
            weights = one_hot - probs.detach() + probs
        elif self.training and self.selection == 'gumbel':
            weights = F.gumbel_softmax(
                logits.float(), tau=self.gumbel_tau, hard=True)
            index = weights.argmax(dim=-1)
        if weights is None:  # 'hard', or argmax at evaluation
            batch = torch.arange(stack.shape[0], device=stack.device)
            return stack[batch, index], index, probs
        selected = torch.einsum('bg,bgchw->bchw', weights.to(stack.dtype), stack)
        return selected, index, probs

    # ------------------------------------------------------------------- SFA
    def _fuse_paper(self, low, mid, top_fused):
        low = F.avg_pool2d(low, 4, 4, ceil_mode=True)
        mid = F.avg_pool2d(mid, 2, 2, ceil_mode=True)
        low = _resize(self.up_low(low), mid.shape[-2:])
        mid = self.lateral_mid(mid) + low
        top = self.lateral_top(top_fused)
        return self.aggregate(top + _resize(mid, top.shape[-2:]))

    def _fuse_release(self, low, mid, top_fused):
        top = self.lateral_top(top_fused)  # H x W
        mid = self.lateral_mid(mid)  # 2H x 2W
        mid = mid + _resize(top, mid.shape[-2:])
        low = self.up_low(low)  # 4H x 4W
        low = low + _resize(mid, low.shape[-2:])
        fused = F.max_pool2d(low, 4, 4)  # back to H x W
        return self.aggregate(fused)

    # --------------------------------------------------------------- forward
    def _group(self, layers: Sequence[int], wanted: Sequence[int],
               items: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        try:
            return [items[layers.index(i)] for i in wanted]
        except ValueError:
            raise ValueError(f'AFSF needs layers {tuple(wanted)}; the backbone '
                             f'returns {tuple(layers)} (out_indices)') from None

    def _afs(self, group: str, layers: Sequence[int], candidates: Sequence[int],
             sent: torch.Tensor, cls_tokens, feats):
        """Select one layer of a group: map, chosen layer numbers, probs."""
        maps = self._group(layers, candidates, feats)
        if len(candidates) == 1:
            batch = sent.shape[0]
            index = torch.zeros(batch, dtype=torch.long, device=sent.device)
            probs = torch.ones(batch, 1, device=sent.device)
            selected = maps[0]
        else:
            selector = getattr(self, f'{group}_selector')
            logits = selector(self._scores(
                sent, self._group(layers, candidates, cls_tokens)))
            selected, index, probs = self._select(logits, maps)
        table = torch.tensor(candidates, device=index.device)
        return selected, table[index], probs

    def forward(self, inputs: dict) -> dict:
        layers = list(inputs['layers'])
        feats, cls_tokens = inputs['visual_feats'], inputs['cls_tokens']
        sent = inputs['sent_feat']
        out = dict(word_feats=inputs['word_feats'],
                   word_mask=inputs['word_mask'], sent_feat=sent)

        top = self.top_norm(self._group(layers, (self.top_layer, ), feats)[0])
        top_fused = top * self.text_proj(sent).to(top.dtype)[:, :, None, None]
        if self.fusion == 'top':
            out['feat'] = self.project(top_fused)
            return out

        low, low_layer, low_probs = self._afs(
            'low', layers, self.low_layers, sent, cls_tokens, feats)
        mid, mid_layer, mid_probs = self._afs(
            'mid', layers, self.mid_layers, sent, cls_tokens, feats)
        low, mid = self.low_norm(low), self.mid_norm(mid)
        if self.fusion == 'concat':
            coarse = self.project(torch.cat([low, mid, top_fused], dim=1))
        elif self.pyramid == 'paper':
            coarse = self._fuse_paper(low, mid, top_fused)
        else:
            coarse = self._fuse_release(low, mid, top_fused)
        out.update(
            feat=coarse,
            afs_layers=torch.stack([low_layer, mid_layer], dim=1),
            afs_probs=[low_probs, mid_probs])
        return out
