"""Resize for images of any size: no side ever becomes 0.

mmcv's keep-ratio resize rounds each side on its own, so a thin image (e.g.
H x W = 10 x 5000 at scale 224) gets a side of 0 and OpenCV stops with an
``inv_scale_x > 0`` assertion that names no image. :class:`ReferringResize`
computes the size by mmcv's rule (``mmcv.rescale_size``), clamps each side to
at least 1 pixel, and resizes the image and every seg map to that one size.

Shape letters: H, W = image height and width before the resize; H', W' =
after it (both >= 1).
"""
from typing import Tuple

import cv2
import mmcv
from mmseg.datasets.transforms import Resize
from mmseg.registry import TRANSFORMS

from .loading import sample_context

__all__ = ['ReferringResize']


def _context(results: dict) -> str:
    if results.get('img_path') is not None:
        return sample_context(results)
    return 'the image (no img_path)'


@TRANSFORMS.register_module()
class ReferringResize(Resize):
    """mmseg's ``Resize`` that never produces a side of 0.

    Same arguments, keys and results as mmseg's ``Resize`` (``img``,
    ``img_shape``, ``scale``, ``scale_factor``, ``keep_ratio``, the seg maps
    of ``seg_fields``, boxes and keypoints), with one difference: each side
    of the new size is at least 1 pixel, from 1 x 1 images to extreme aspect
    ratios. The image and its seg maps get exactly the same size. Errors
    name the image (``img_path`` when the results have one).
    """

    def _new_size(self, results: dict) -> Tuple[int, int]:
        """The (W', H') the image is resized to, each side >= 1."""
        h, w = results['img'].shape[:2]
        if h < 1 or w < 1:
            raise ValueError(f'cannot resize an empty image ({h} x {w} '
                             f'pixels): {_context(results)}')
        scale = results['scale']
        if self.keep_ratio:
            new_w, new_h = mmcv.rescale_size((w, h), scale)
        else:
            new_w, new_h = scale
        return max(1, int(new_w)), max(1, int(new_h))

    def _resize_img(self, results: dict) -> None:
        """Resize ``img`` (H, W[, C]) -> (H', W'[, C]); set the metas."""
        if results.get('img', None) is None:
            return
        img = results['img']
        h, w = img.shape[:2]
        new_w, new_h = self._new_size(results)
        try:
            resized = mmcv.imresize(img, (new_w, new_h),
                                    interpolation=self.interpolation,
                                    backend=self.backend)
        except (cv2.error, ValueError) as err:
            raise ValueError(f'cannot resize {_context(results)} from '
                             f'{h} x {w} to {new_h} x {new_w}: {err}') from err
        results['img'] = resized
        results['img_shape'] = resized.shape[:2]
        results['scale_factor'] = (new_w / w, new_h / h)
        results['keep_ratio'] = self.keep_ratio

    def _resize_seg(self, results: dict) -> None:
        """Resize every seg map (H, W) to the image's (H', W'), nearest."""
        new_h, new_w = results['img_shape'][:2]
        for key in results.get('seg_fields', []):
            seg = results.get(key, None)
            if seg is None:
                continue
            if 0 in seg.shape[:2]:
                raise ValueError(f'cannot resize the empty {key} '
                                 f'{seg.shape}: {_context(results)}')
            results[key] = mmcv.imresize(seg, (new_w, new_h),
                                         interpolation='nearest',
                                         backend=self.backend)
