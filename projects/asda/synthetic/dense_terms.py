"""Stage one's dense terms: what the tokens of a visual layer must say about
the objects under them, against the text tower's embeddings.

* :class:`RegionPhraseLoss` (``dense``, in the style of RegionCLIP): each
  object's tokens averaged under its mask, projected, against the world's 25
  "colour shape" phrases (an InfoNCE over the phrases). It teaches colour and
  shape.
* :class:`PhraseGroundingLoss` (``grounding``, in the style of GLIP's
  phrase grounding): each patch token, projected, against a referring
  expression of its scene ("the circle on the left", "the smaller object":
  :func:`asda.synthetic.captions.referring_expressions`); every patch is
  scored by a sigmoid of its scaled cosine and trained towards the share of
  it the expression's object covers. Whether a patch belongs to "the circle
  on the left" or "...on the right" depends on nothing but the position
  word, so the text tower must keep position and size words apart (a
  caption-level loss never needs them: the words collapse).

Their projections, scales and biases are training aids: they are not saved
with the CLIP.

Shape letters: B images, C visual width, D embedding width, E expressions of
a batch, N objects of a batch, P phrases, H x W input, h x w token grid.
"""
import math
from typing import List, Tuple

import torch
import torch.nn.functional as F

from .probes import region_weights

__all__ = ['RegionPhraseLoss', 'ObjectGroundingLoss', 'object_geometry', 'DENSE_TERMS']


class RegionPhraseLoss(torch.nn.Module):
    """Region-phrase alignment.

    Each object's tokens at visual layer ``layer`` are averaged under its
    mask (:func:`asda.synthetic.probes.region_weights`, as the shape probe
    reads them), projected to the embedding width and normalised; their
    scaled cosines with the P phrase embeddings are scored by cross-entropy
    against the object's own phrase (an InfoNCE over the phrases).

    Args:
        width (int): C, channels of the visual tokens.
        embed_dim (int): D, width of the text tower's embeddings.
        patch_size (tuple[int, int]): (ph, pw) of the visual tokens.
        layer (int): 1-based visual layer whose tokens are pooled.
        init_scale (float): Initial logit scale (learned, as CLIP's).
    """

    def __init__(self, width: int, embed_dim: int, patch_size: Tuple[int, int],
                 layer: int, init_scale: float = 1 / 0.07):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.layer = layer
        self.proj = torch.nn.Linear(width, embed_dim)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(init_scale)))

    def forward(self, tokens: torch.Tensor, masks: List[torch.Tensor],
                labels: torch.Tensor, phrase_feats: torch.Tensor
                ) -> torch.Tensor:
        """The term's value.

        Args:
            tokens (Tensor): (B, C, h, w) tokens of ``layer``.
            masks (list[Tensor]): per image its objects' (n_b, H, W) masks.
            labels (Tensor): (N,) phrase index of each object, images in
                order (N = sum of n_b).
            phrase_feats (Tensor): (P, D) normalised phrase embeddings.

        Returns:
            Tensor: the mean cross-entropy over the N objects.
        """
        # per image (n_b, h, w) x (C, h, w) -> (n_b, C); then (N, C)
        regions = torch.cat([
            torch.einsum('nhw,chw->nc',
                         region_weights(m, self.patch_size).to(tokens), tokens[b])
            for b, m in enumerate(masks)])
        feats = F.normalize(self.proj(regions), dim=-1)  # (N, D)
        logits = self.logit_scale.exp() * feats @ phrase_feats.T  # (N, P)
        return F.cross_entropy(logits.float(), labels)


def object_geometry(masks: torch.Tensor) -> torch.Tensor:
    """Where each object is and how big: its mask's centroid (x, y) in
    [-1, 1] of the input and the square root of its share of the input.

    Args:
        masks (Tensor): (n, H, W) bool.

    Returns:
        Tensor: (n, 3).
    """
    n, h, w = masks.shape
    m = masks.float()
    area = m.sum(dim=(1, 2)).clamp_min(1)  # (n,)
    ys = torch.linspace(-1, 1, h, device=m.device)
    xs = torch.linspace(-1, 1, w, device=m.device)
    cx = (m.sum(1) * xs).sum(1) / area
    cy = (m.sum(2) * ys).sum(1) / area
    return torch.stack([cx, cy, (area / (h * w)).sqrt()], dim=1)


class ObjectGroundingLoss(torch.nn.Module):
    """Which object of its scene a referring expression means.

    Each object's tokens at visual layer ``layer`` are averaged under its
    mask (as :class:`RegionPhraseLoss` reads them) and projected; its
    geometry (:func:`object_geometry`: centroid and size) is projected and
    added, so that where an object is and how big it is can be read from
    the first step. An expression's normalised embedding is scored against
    the normalised features of its scene's objects, and cross-entropy picks
    its own object among them (an InfoNCE over the scene's objects).

    Args:
        width (int): C, channels of the visual tokens.
        embed_dim (int): D, width of the text tower's embeddings.
        patch_size (tuple[int, int]): (ph, pw) of the visual tokens.
        layer (int): 1-based visual layer whose tokens are pooled.
        init_scale (float): Initial logit scale (learned).
    """

    def __init__(self, width: int, embed_dim: int, patch_size: Tuple[int, int],
                 layer: int, init_scale: float = 10.0):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.layer = layer
        self.proj = torch.nn.Linear(width, embed_dim)
        self.geometry = torch.nn.Linear(3, embed_dim)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(init_scale)))

    def object_logits(self, tokens: torch.Tensor, masks: List[torch.Tensor],
                      image_index: torch.Tensor, text_feats: torch.Tensor
                      ) -> torch.Tensor:
        """Each expression's logits over all objects of the batch, those of
        other images at -inf.

        Args:
            tokens (Tensor): (B, C, h, w) tokens of ``layer``.
            masks (list[Tensor]): per image its objects' (n_b, H, W) masks.
            image_index (Tensor): (E,) image of each expression.
            text_feats (Tensor): (E, D) normalised expression embeddings.

        Returns:
            Tensor: (E, N) logits, N = sum of n_b, objects in image order.
        """
        # per image (n_b, h, w) x (C, h, w) -> (n_b, C); then (N, C)
        regions = torch.cat([
            torch.einsum('nhw,chw->nc',
                         region_weights(m, self.patch_size).to(tokens), tokens[b])
            for b, m in enumerate(masks)])
        geometry = torch.cat([object_geometry(m) for m in masks]).to(tokens)
        feats = F.normalize(self.proj(regions) + self.geometry(geometry), dim=-1)
        owner = torch.cat([torch.full((len(m),), b, device=tokens.device)
                           for b, m in enumerate(masks)])  # (N,)
        logits = self.logit_scale.exp() * text_feats @ feats.T  # (E, N)
        same = image_index[:, None] == owner[None, :]
        return logits.float().masked_fill(~same, float('-inf'))

    def forward(self, tokens: torch.Tensor, masks: List[torch.Tensor],
                image_index: torch.Tensor, targets: torch.Tensor,
                text_feats: torch.Tensor) -> torch.Tensor:
        """The term's value.

        Args:
            tokens, masks, image_index, text_feats: as :meth:`object_logits`.
            targets (Tensor): (E,) index of each expression's object among
                the batch's N objects.

        Returns:
            Tensor: the mean cross-entropy over the E expressions.
        """
        return F.cross_entropy(
            self.object_logits(tokens, masks, image_index, text_feats), targets)


#: Dense term name -> its class.
DENSE_TERMS = dict(dense=RegionPhraseLoss, grounding=ObjectGroundingLoss)
