"""Decoding of inference inputs: file paths, numpy arrays and PIL images to
the (H, W, 3) uint8 BGR array the test pipeline expects.

Images: a file path (decoded by OpenCV), a numpy array **in RGB order**
(H x W x 3; H x W or H x W x 1 grayscale; H x W x 4 RGBA / H x W x 2 gray +
alpha, the alpha channel is dropped, not blended) or a PIL image (any mode).

EXIF orientation: a file or a PIL image is turned as its EXIF orientation
tag says (a phone photo is stored sideways with a tag), so the image, and
the mask, are the way every viewer shows them; this is what mmcv's
``imfrombytes`` does with its default ``'color'`` flag. A numpy array
carries no tag and is taken as it is. The dataset loader
(:class:`asda.datasets.LoadReferringImage`) does the opposite on purpose:
COCO annotations are in the stored pixel layout. 8-bit values are
taken as they are, 16-bit ones are scaled to 8 bits (``v * 255 / 65535``,
rounded); boolean arrays map to 0 / 255. Float arrays are refused (their
range is ambiguous): convert them to ``uint8`` first.

Pixel limit: an image of more than ``max_pixels`` pixels (default
:data:`DEFAULT_MAX_PIXELS`) is refused with :class:`ImageTooLargeError`
before it is decoded. A small file can hold a huge image (a 316 KB PNG of
10000 x 10000 pixels takes 31 s and 2.6 GB to decode): a file's size is read
from its header (Pillow opens it lazily and decodes nothing), a PIL image's
from its ``size``, an array's from its shape. A file whose header Pillow
cannot read (a format only OpenCV knows) is checked once decoded. The model
sees the image resized to a few hundred pixels a side, so the default, 2**26
pixels (8192 x 8192, or a 64-megapixel photo of 9248 x 6936), is generous;
pass ``max_pixels=None`` for no limit. Above twice
``PIL.Image.MAX_IMAGE_PIXELS`` Pillow itself refuses to open a file, which
is reported the same way.
"""
import io
import os
import warnings
from typing import Any, Optional, Tuple, Union

import numpy as np
from mmengine import fileio

__all__ = [
    'DEFAULT_MAX_PIXELS', 'ImageInput', 'ImageTooLargeError', 'check_image_file',
    'check_pixels', 'load_image'
]

ImageInput = Union[str, os.PathLike, np.ndarray, Any]

#: The pixel limit of an inference image (see the module).
DEFAULT_MAX_PIXELS = 2**26


class ImageTooLargeError(ValueError):
    """An image has more pixels than the limit.

    Attributes:
        width (int | None): Its width (None when Pillow refused to open it).
        height (int | None): Its height.
        max_pixels (int): The limit.
    """

    def __init__(self, message: str, width: Optional[int], height: Optional[int],
                 max_pixels: int):
        super().__init__(message)
        self.width, self.height, self.max_pixels = width, height, max_pixels


def check_pixels(width: int, height: int, max_pixels: Optional[int],
                 what: str = 'image') -> None:
    """Refuse an image of ``width`` x ``height`` above ``max_pixels`` (None:
    no limit): the one owner of the pixel limit.

    Raises:
        ImageTooLargeError: Names ``what``, its size and the limit.
    """
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f'{what}: {width} x {height} = {width * height:,} pixels, more '
            f'than the limit of {max_pixels:,} (max_pixels; refused before '
            f'decoding it)', width, height, max_pixels)


def _header_size(source, what: str, max_pixels: int) -> Optional[Tuple[int, int]]:
    """(width, height) read from an image's header (a path or a binary
    file object), decoding nothing; None when Pillow does not know the
    format."""
    from PIL import Image
    try:
        with warnings.catch_warnings():  # its size is checked here, not warned
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(source) as img:
                return img.size
    except Image.DecompressionBombError as err:  # above twice Pillow's limit
        raise ImageTooLargeError(
            f'{what}: Pillow refuses to open it ({err}); the limit is '
            f'{max_pixels:,} pixels (max_pixels)', None, None, max_pixels) from None
    except Exception:  # noqa: BLE001 (an unknown or unreadable header: decode)
        return None


def check_image_file(path: str, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                     what: str = 'image') -> None:
    """:func:`check_pixels` for a local image file, from its header: a tool
    asks it before it builds a model. A file Pillow cannot read is left to
    :func:`load_image`.

    Raises:
        FileNotFoundError: No file at ``path``.
        ImageTooLargeError: See :func:`check_pixels`.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what}: file not found: {path}')
    if max_pixels is None:
        return
    size = _header_size(path, f'{what} ({path})', max_pixels)
    if size is not None:
        check_pixels(*size, max_pixels, f'{what} ({path})')


def _scale_to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        # exact integer rounding of v * 255 / 65535 (v * 257 -> v)
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo >= 0 and hi <= 255:
            return arr.astype(np.uint8)
        raise ValueError(f'{what}: integer values must lie in [0, 255] '
                         f'(uint16 is scaled), got [{lo}, {hi}] in a '
                         f'{arr.dtype} array')
    raise TypeError(f'{what}: {arr.dtype} pixels are ambiguous (0-1 or '
                    f'0-255?); pass uint8 (or uint16) values')


def _to_bgr_uint8(arr: np.ndarray, order: str, what: str) -> np.ndarray:
    """Any supported layout -> contiguous (H, W, 3) uint8 BGR."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = _scale_to_uint8(arr, what)
        arr = np.repeat(arr[..., None], 3, axis=2)
        order = 'bgr'  # gray: the order does not matter
    elif arr.ndim == 3 and arr.shape[2] in (2, 3, 4):
        if arr.shape[2] == 2:  # gray + alpha
            arr = np.repeat(arr[..., :1], 3, axis=2)
        arr = _scale_to_uint8(arr[..., :3], what)  # drop alpha
    else:
        raise ValueError(f'{what}: expected an (H, W), (H, W, 1), (H, W, 3) '
                         f'or (H, W, 4) image, got shape {arr.shape}')
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f'{what}: empty image of shape {arr.shape}')
    if order == 'rgb':
        arr = arr[..., ::-1]
    return np.ascontiguousarray(arr)


def _pil_to_array(image) -> np.ndarray:
    """A PIL image -> an RGB(A) / gray numpy array (16-bit kept)."""
    mode = image.mode
    if mode.startswith('I;16'):
        return np.asarray(image).astype(np.uint16)
    if mode == 'I':  # 32-bit ints: how Pillow opens some 16-bit PNGs
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
    if mode in ('1', 'L', 'LA', 'RGB', 'RGBA'):
        return np.asarray(image)
    if mode in ('P', 'PA'):
        return np.asarray(image.convert('RGBA'))
    if mode == 'F':
        raise TypeError('PIL images of mode "F" (float) are ambiguous; '
                        'convert them to "L", "RGB" or 16-bit first')
    return np.asarray(image.convert('RGB'))  # CMYK, YCbCr, LAB, HSV, RGBX


def _decode_file(data: bytes) -> Optional[np.ndarray]:
    """Gray or BGR, 8 or 16 bits (alpha dropped), turned by its EXIF
    orientation: OpenCV applies the tag for any flag but
    ``IMREAD_UNCHANGED``."""
    import cv2
    if not data:
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8),
                        cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)


def load_image(image: ImageInput, name: str = 'image',
               max_pixels: Optional[int] = DEFAULT_MAX_PIXELS
               ) -> Tuple[np.ndarray, Optional[str]]:
    """Decode an inference input to (H, W, 3) uint8 **BGR** and its path.

    A path is decoded with OpenCV (gray and 16 bits are handled here); numpy
    arrays are taken as RGB; PIL images by mode. Files and PIL images are
    turned by their EXIF orientation (see the module). An image of more
    than ``max_pixels`` pixels (None: no limit) is refused before it is
    decoded (:func:`check_pixels`; see the module).

    Raises:
        ImageTooLargeError: More pixels than ``max_pixels``.
    """
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        what = f'{name} ({path})'
        try:
            data = fileio.get(path)
        except FileNotFoundError:
            raise FileNotFoundError(f'{name}: file not found: {path}') from None
        size = _header_size(io.BytesIO(data), what, max_pixels) \
            if max_pixels is not None else None
        if size is not None:
            check_pixels(*size, max_pixels, what)
        arr = _decode_file(data)
        if arr is None:
            raise OSError(f'{name}: cannot decode image file {path}')
        if size is None:  # a header Pillow could not read
            check_pixels(arr.shape[1], arr.shape[0], max_pixels, what)
        return _to_bgr_uint8(arr, 'bgr', what), path
    if isinstance(image, np.ndarray):
        if image.ndim >= 2:
            check_pixels(image.shape[1], image.shape[0], max_pixels, name)
        return _to_bgr_uint8(image, 'rgb', name), None
    try:
        from PIL import Image, ImageOps
    except ImportError:  # pragma: no cover
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        check_pixels(*image.size, max_pixels, name)  # a lazy image: not decoded yet
        upright = ImageOps.exif_transpose(image)
        return _to_bgr_uint8(_pil_to_array(upright), 'rgb', name), None
    raise TypeError(f'{name}: expected a file path, a numpy array or a PIL '
                    f'image, got {type(image).__name__}')
