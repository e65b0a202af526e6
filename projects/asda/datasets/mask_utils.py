"""Checking and decoding COCO ``segmentation`` fields (polygons and RLE).

A COCO ``segmentation`` is one of

* a list of polygons ``[[x1, y1, x2, y2, ...], ...]`` (one or more parts),
* an uncompressed RLE ``{'size': [h, w], 'counts': [int, ...]}``,
* a compressed RLE ``{'size': [h, w], 'counts': str | bytes}``.

The referring mask is the union of the decoded parts (``> 0``): the refer API
sums the parts, so overlaps would otherwise reach 2. :func:`mask_area`
counts its pixels from the run-length encoding, without decoding it: an
expression's target mask must have one (the rule
:meth:`asda.datasets.RefCOCODataset.ref_problems` applies).
"""
import warnings
from typing import Any, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

__all__ = ['annotation_segmentation', 'check_segmentation', 'decode_segmentation',
           'encode_mask', 'mask_area', 'polygon_problem']


def _where(context: Optional[str]) -> str:
    return f' ({context})' if context else ''


def polygon_problem(poly: Any) -> Optional[str]:
    """Why ``poly`` is not a usable polygon part, or None if it is: it must
    be a list of an even number of at least 6 coordinates (3 points)."""
    if not isinstance(poly, (list, tuple)):
        return f'is a {type(poly).__name__}, expected a list of coordinates'
    if len(poly) < 6:
        return (f'has {len(poly) // 2} point(s) ({len(poly)} coordinates); a '
                f'polygon needs at least 3 points (6 coordinates)')
    if len(poly) % 2:
        return f'has an odd number of coordinates ({len(poly)})'
    return None


def check_segmentation(segmentation: Any,
                       height: int,
                       width: int,
                       context: Optional[str] = None) -> None:
    """Raise ``ValueError`` if ``segmentation`` cannot be decoded.

    Args:
        segmentation: A COCO ``segmentation`` field.
        height (int): Image height.
        width (int): Image width.
        context (str, optional): Where the field comes from (file, ref id,
            annotation id), quoted in the error message.

    Raises:
        ValueError: empty polygon list, a polygon with fewer than 3 points
            (fewer than 6 coordinates) or an odd number of coordinates, an
            RLE without ``counts``/``size``, or an RLE whose size differs from
            the image's.
    """
    where = _where(context)
    if isinstance(segmentation, list):
        if not segmentation:
            raise ValueError(f'empty polygon list{where}')
        for k, poly in enumerate(segmentation):
            problem = polygon_problem(poly)
            if problem is not None:
                raise ValueError(f'polygon part {k} {problem}{where}')
    elif isinstance(segmentation, dict):
        if 'counts' not in segmentation or 'size' not in segmentation:
            raise ValueError(
                f'RLE segmentation needs "counts" and "size", got keys '
                f'{sorted(segmentation)}{where}')
        size = [int(s) for s in segmentation['size']]
        if size != [int(height), int(width)]:
            raise ValueError(
                f'RLE size {size} differs from the image size '
                f'[{height}, {width}]{where}')
    else:
        raise ValueError(
            f'unsupported segmentation of type {type(segmentation).__name__}'
            f'{where}')


def annotation_segmentation(ann: dict,
                            height: int,
                            width: int,
                            context: Optional[str] = None,
                            skip_invalid_polygons: bool = False
                            ) -> Tuple[Any, int]:
    """The checked ``segmentation`` of a COCO annotation: the one rule for
    a target's mask field, which the datasets and ``check_refer_data.py``
    ask (through ``RefCOCODataset.ref_problems``).

    Args:
        ann (dict): A COCO annotation.
        height (int): Its image's height.
        width (int): Its image's width.
        context (str, optional): Quoted in error messages.
        skip_invalid_polygons (bool): Drop the polygon parts
            :func:`polygon_problem` refuses instead of raising (the parts
            left must still make a segmentation).

    Returns:
        tuple: The segmentation (without the dropped parts) and how many
        parts were dropped.

    Raises:
        ValueError: The annotation has no ``segmentation`` (a bbox-only
            annotation gives no mask), or :func:`check_segmentation` refuses
            it.
    """
    if 'segmentation' not in ann:
        raise ValueError(f'annotation has no segmentation (a bbox alone gives no '
                         f'mask){_where(context)}')
    seg, dropped = ann['segmentation'], 0
    if skip_invalid_polygons and isinstance(seg, list):
        kept = [part for part in seg if polygon_problem(part) is None]
        seg, dropped = kept, len(seg) - len(kept)
    check_segmentation(seg, height, width, context)
    return seg, dropped


def _rle(segmentation: Any, height: int, width: int) -> dict:
    """The RLE of a checked segmentation (the union of its parts)."""
    if isinstance(segmentation, list):
        rles = mask_utils.frPyObjects(
            [[float(v) for v in poly] for poly in segmentation], height, width)
        return mask_utils.merge(rles) if len(rles) > 1 else rles[0]
    if isinstance(segmentation['counts'], list):  # uncompressed RLE
        return mask_utils.frPyObjects(segmentation, height, width)
    return segmentation  # compressed RLE; pycocotools accepts str or bytes counts


def mask_area(segmentations: Sequence[Any], height: int, width: int) -> int:
    """Pixels of the union of ``segmentations`` decoded at ``height`` x
    ``width`` (0: an empty mask: polygons of zero area, or lying wholly
    outside the image), counted from the run-length encoding.

    Args:
        segmentations (Sequence): Segmentations the mask rules accept
            (:func:`annotation_segmentation`, which also drops the polygon
            parts ``skip_invalid_polygons`` leaves out).
        height (int): The image's height.
        width (int): The image's width.

    Raises:
        ValueError: :func:`check_segmentation` refuses one of them.
    """
    h, w = int(height), int(width)
    rles = []
    for segmentation in segmentations:
        check_segmentation(segmentation, h, w)
        rles.append(_rle(segmentation, h, w))
    if not rles:
        return 0
    rle = mask_utils.merge(rles) if len(rles) > 1 else rles[0]
    return int(mask_utils.area(rle))


def decode_segmentation(segmentation: Any,
                        height: int,
                        width: int,
                        context: Optional[str] = None) -> np.ndarray:
    """Decode a COCO ``segmentation`` to a binary (0/1) uint8 mask.

    Args:
        segmentation: Polygons, uncompressed or compressed RLE.
        height (int): Image height.
        width (int): Image width.
        context (str, optional): Quoted in error messages.

    Returns:
        np.ndarray: (height, width) uint8 array of 0 and 1, the union of all
        parts.
    """
    check_segmentation(segmentation, height, width, context)
    rle = _rle(segmentation, int(height), int(width))
    with warnings.catch_warnings():
        # pycocotools' Masks.__array__ predates numpy 2's copy keyword.
        warnings.filterwarnings('ignore', message='__array__ implementation',
                                category=DeprecationWarning)
        mask = mask_utils.decode(rle)
    if mask.ndim == 3:  # defensive: decode of a list returns (h, w, n)
        mask = mask.max(axis=2)
    return (mask > 0).astype(np.uint8)


def encode_mask(mask: np.ndarray) -> dict:
    """A binary mask (foreground: > 0) as a compressed COCO RLE that JSON
    holds: ``{'size': [h, w], 'counts': str}``; :func:`decode_segmentation`
    gives the mask back pixel for pixel."""
    rle = mask_utils.encode(np.asfortranarray((np.asarray(mask) > 0).astype(np.uint8)))
    return dict(size=[int(v) for v in rle['size']], counts=rle['counts'].decode('ascii'))
