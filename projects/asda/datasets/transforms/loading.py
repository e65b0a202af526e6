"""Image and referring-mask loading with errors that name the sample."""
import io
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmseg.registry import TRANSFORMS

from ..mask_utils import decode_segmentation

__all__ = ['LoadReferringImage', 'LoadReferringAnnotations', 'sample_context']

_JPEG_SOI = b'\xff\xd8'
_JPEG_EOI = b'\xff\xd9'


def sample_context(results: dict) -> str:
    """``'image <path>, ref_id=.., sent_id=..'`` for error messages."""
    parts = [f'image {results.get("img_path")}']
    for key in ('ref_id', 'sent_id', 'ann_id'):
        if results.get(key) is not None:
            parts.append(f'{key}={results[key]}')
    return ', '.join(parts)


def _verify_complete(img_bytes: bytes) -> Optional[str]:
    """Why the encoded image is incomplete, or None if it is whole.

    OpenCV decodes a truncated JPEG without an error (it fills the missing
    rows with grey), so a JPEG that does not end with its end-of-image marker
    is decoded once more by Pillow, which raises on truncation. Other formats
    are always checked by Pillow.
    """
    if img_bytes[:2] == _JPEG_SOI and \
            img_bytes.rstrip(b'\x00\r\n ')[-2:] == _JPEG_EOI:
        return None
    from PIL import Image
    try:
        with Image.open(io.BytesIO(img_bytes)) as im:
            im.load()
    except Exception as err:  # PIL raises OSError, SyntaxError, ...
        return str(err) or type(err).__name__
    return None


@TRANSFORMS.register_module()
class LoadReferringImage(BaseTransform):
    """Load the image of a referring sample; errors name the ref/sentence.

    Like mmcv's ``LoadImageFromFile`` (same output keys: ``img``,
    ``img_shape``, ``ori_shape``), but a missing, unreadable or truncated
    image raises an error naming the image path and the ``ref_id`` /
    ``sent_id``, and the decoded size is checked against the COCO ``height``
    and ``width`` when they are known.

    Args:
        color_type (str): mmcv decode flag. Defaults to
            ``'color_ignore_orientation'``: COCO annotations are in the stored
            pixel layout, so EXIF orientation must not rotate the image.
        imdecode_backend (str): mmcv decode backend. Defaults to 'cv2'.
        to_float32 (bool): Convert to float32. Defaults to False (uint8).
        check_truncated (bool): Detect truncated files. Defaults to True.
        check_size (bool): Compare the image size with ``height``/``width``.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 color_type: str = 'color_ignore_orientation',
                 imdecode_backend: str = 'cv2',
                 to_float32: bool = False,
                 check_truncated: bool = True,
                 check_size: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.to_float32 = to_float32
        self.check_truncated = check_truncated
        self.check_size = check_size
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        filename = results['img_path']
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f'image not found: {sample_context(results)}') from err
        except Exception as err:
            raise OSError(f'cannot read {sample_context(results)}: '
                          f'{err!r}') from err
        if not img_bytes:
            raise OSError(f'empty image file: {sample_context(results)}')
        if self.check_truncated:
            problem = _verify_complete(img_bytes)
            if problem is not None:
                raise OSError(f'truncated or corrupt image '
                              f'({problem}): {sample_context(results)}')
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type,
                backend=self.imdecode_backend)
        except Exception as err:
            raise OSError(f'cannot decode {sample_context(results)}: '
                          f'{err!r}') from err
        if img is None:
            raise OSError(f'cannot decode {sample_context(results)}')
        if self.check_size and 'height' in results and 'width' in results:
            expected = (int(results['height']), int(results['width']))
            if img.shape[:2] != expected:
                raise ValueError(
                    f'image is {img.shape[0]}x{img.shape[1]} (h x w) but the '
                    f'annotation file says {expected[0]}x{expected[1]}: '
                    f'{sample_context(results)}')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'to_float32={self.to_float32}, '
                f'check_truncated={self.check_truncated})')


@TRANSFORMS.register_module()
class LoadReferringAnnotations(BaseTransform):
    """Decode the referred object's COCO segmentation to ``gt_seg_map``.

    Required keys: ``segmentation`` or ``segmentations`` (a list of COCO
    segmentations, gRefCOCO: see :class:`GRefCOCODataset`), ``height``,
    ``width``.
    Added keys: ``gt_seg_map`` ((H, W) uint8, 0 background / 1 object, the
    union of all polygon / RLE parts; with ``segmentations`` the union of
    all of them, all zero when the list is empty), ``seg_fields``.

    Placed after ``Resize`` (the test pipeline), the mask stays at the
    original image size, which is what the metric compares against.
    """

    def transform(self, results: dict) -> dict:
        height, width = int(results['height']), int(results['width'])
        context = sample_context(results)
        if 'segmentations' in results:
            mask = np.zeros((height, width), dtype=np.uint8)
            for k, seg in enumerate(results['segmentations']):
                mask |= decode_segmentation(
                    seg, height, width,
                    context=f'{context}, segmentation #{k}')
        else:
            mask = decode_segmentation(
                results['segmentation'], height, width, context=context)
        results['gt_seg_map'] = mask
        fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        return results
