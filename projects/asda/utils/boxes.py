"""Boxes and connected components of binary masks: the one owner of "the box
of a mask", "the components of a mask" and "box IoU", which the REC accuracy
of :class:`asda.evaluation.RISMetric`, the inferencer's ``box`` and
``instances`` and the dataset converters' COCO ``bbox`` ask.

A box is COCO's ``[x, y, w, h]`` in pixels: ``x`` / ``y`` the leftmost
column / topmost row of the foreground, ``w`` / ``h`` the number of columns
/ rows it spans (a single pixel is ``[x, y, 1, 1]``). Box IoU treats a box
as the area it covers, ``[x, x + w) x [y, y + h)``.

Components are 8-connected (pixels that touch at a corner belong together),
found by OpenCV's ``connectedComponentsWithStats``.

Shapes: H, W the mask's height and width.
"""
from typing import List, Optional, Sequence

import cv2
import numpy as np

__all__ = ['mask_box', 'mask_components', 'largest_component_box', 'box_iou']

#: Pixels that touch at an edge or a corner are one component.
CONNECTIVITY = 8


def _binary(mask) -> np.ndarray:
    """(H, W) uint8 0/1 of ``mask`` (foreground: > 0); a tensor or an array
    with leading singleton axes is accepted."""
    if hasattr(mask, 'detach'):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    while mask.ndim > 2 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2:
        raise ValueError(f'a mask must be (H, W), got shape {mask.shape}')
    return (mask > 0).astype(np.uint8)


def mask_box(mask) -> Optional[List[int]]:
    """The tight box ``[x, y, w, h]`` of every foreground pixel of ``mask``
    (all components together), or None for an empty mask."""
    binary = _binary(mask)
    ys, xs = np.nonzero(binary)
    if not len(xs):
        return None
    x0, y0 = int(xs.min()), int(ys.min())
    return [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]


def _components(binary: np.ndarray):
    """Labels and ``[x, y, w, h, area]`` rows of the foreground components
    (row k is label k + 1)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        binary, connectivity=CONNECTIVITY)
    return labels, stats[1:, :5]


def largest_component_box(mask) -> Optional[List[int]]:
    """The box of the largest 8-connected component of ``mask`` (None for an
    empty mask): the box a referring mask predicts (REC). A tie goes to the
    component met first in row-major order (the one whose top-left pixel
    comes first)."""
    _, stats = _components(_binary(mask))
    if not len(stats):
        return None
    x, y, w, h, _ = stats[int(np.argmax(stats[:, 4]))]
    return [int(x), int(y), int(w), int(h)]


def mask_components(mask, min_area: int = 1) -> List[dict]:
    """The 8-connected components of ``mask`` with at least ``min_area``
    pixels, largest first (ties in row-major order of their first pixel).

    Returns:
        list[dict]: One per component: ``mask`` ((H, W) bool), ``box``
        (``[x, y, w, h]``) and ``area`` (pixels).
    """
    if isinstance(min_area, bool) or not isinstance(min_area, int) or min_area < 1:
        raise ValueError(f'min_area must be a positive int, got {min_area!r}')
    labels, stats = _components(_binary(mask))
    order = sorted(range(len(stats)), key=lambda k: -int(stats[k, 4]))
    return [dict(mask=labels == k + 1, box=[int(v) for v in stats[k, :4]],
                 area=int(stats[k, 4]))
            for k in order if stats[k, 4] >= min_area]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x, y, w, h]`` boxes (0 when they do not overlap)."""
    ax0, ay0, aw, ah = (float(v) for v in a)
    bx0, by0, bw, bh = (float(v) for v in b)
    iw = min(ax0 + aw, bx0 + bw) - max(ax0, bx0)
    ih = min(ay0 + ah, by0 + bh) - max(ay0, by0)
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0
