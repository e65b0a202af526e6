"""Pre-flight check of a split's images: the one owner of "is this image
usable".

Every image a split refers to is checked before training or evaluation
starts, in parallel threads, so that a missing or cut-short file stops the run
within seconds with the whole list, not hours in with the first one. An image
passes when it exists, starts with a known image signature and ends with its
format's end marker (JPEG end-of-image ``FF D9``, PNG ``IEND`` chunk): a file
cut short by an interrupted copy or download loses its end marker, which a
header-only check would miss. A file whose end marker is not where expected
(other formats, or bytes appended after the marker) is decoded in full by
Pillow instead. When the annotation file gives the image's size, the size in
the image's header (read without decoding the pixels) must be that size: the
loader refuses an image of another size, and the masks are drawn at the
annotated one.
"""
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from mmengine import fileio

__all__ = ['image_problem', 'image_size', 'check_images', 'describe_bad_samples',
           'BadImagesError']

_TAIL = 1024  # bytes read from a file's end to find its end marker
_JPEG_SOI, _JPEG_EOI = b'\xff\xd8', b'\xff\xd9'
_PNG_SIG, _PNG_IEND = b'\x89PNG\r\n\x1a\n', b'IEND\xaeB`\x82'


class BadImagesError(ValueError):
    """Images of a split are missing or unreadable (all of them listed)."""


def _full_decode_problem(path: str) -> Optional[str]:
    from PIL import Image, ImageFile
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(path) as img:
            img.load()
    except Exception as err:  # noqa: BLE001 (any decoder error: unusable)
        return f'cannot be decoded ({type(err).__name__}: {err})'
    return None


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) of the image at ``path`` as stored, from its header:
    Pillow opens lazily, so no pixel is decoded. EXIF orientation is not
    applied, as the loader (``color_ignore_orientation``) does not. The one
    reader of an image file's size (this check and the converters ask it).

    Raises:
        OSError: Pillow cannot read the file (``PIL.UnidentifiedImageError``
            is an OSError).
    """
    from PIL import Image
    with Image.open(path) as img:
        width, height = img.size
    return height, width


def _size_problem(path: str, size: Tuple[int, int]) -> Optional[str]:
    """Whether the header of the image at ``path`` gives ``size`` (h, w)
    (:func:`image_size`)."""
    try:
        height, width = image_size(path)
    except Exception as err:  # noqa: BLE001 (any reader error: unusable)
        return f'cannot be read ({type(err).__name__}: {err})'
    expected = (int(size[0]), int(size[1]))
    if (height, width) != expected:
        return (f'is {height}x{width} (h x w) but the annotation file says '
                f'{expected[0]}x{expected[1]}')
    return None


def image_problem(path: str, backend_args: Optional[dict] = None,
                  size: Optional[Tuple[int, int]] = None) -> Optional[str]:
    """Why the image at ``path`` is unusable, or None if it is fine.

    Local files are checked by signature and end marker (full decode when
    those are inconclusive) and, when ``size`` (height, width) is given, by
    the size in their header; files on other storage backends only for
    existence.
    """
    problem = _file_problem(path, backend_args)
    if problem is None and size is not None and '://' not in path:
        problem = _size_problem(path, size)
    return problem


def _file_problem(path: str, backend_args: Optional[dict]) -> Optional[str]:
    """Whether the file is there and whole (see the module)."""
    if '://' in path:  # a remote backend: existence is what can be afforded
        return None if fileio.exists(path, backend_args=backend_args) \
            else 'missing'
    if not osp.isfile(path):
        return 'missing'
    size = osp.getsize(path)
    if size == 0:
        return 'empty file'
    with open(path, 'rb') as f:
        head = f.read(8)
        f.seek(max(0, size - _TAIL))
        tail = f.read()
    if head.startswith(_JPEG_SOI):
        if tail.rstrip(b'\x00').endswith(_JPEG_EOI):
            return None
        problem = _full_decode_problem(path)
        return None if problem is None else \
            f'truncated JPEG (no end-of-image marker; {problem})'
    if head.startswith(_PNG_SIG):
        if _PNG_IEND in tail:
            return None
        problem = _full_decode_problem(path)
        return None if problem is None else \
            f'truncated PNG (no IEND chunk; {problem})'
    return _full_decode_problem(path)


def check_images(paths: Iterable[str],
                 backend_args: Optional[dict] = None,
                 num_workers: Optional[int] = None,
                 progress: Optional[Callable[[int, int], None]] = None,
                 sizes: Optional[Mapping[str, Tuple[int, int]]] = None
                 ) -> Dict[str, str]:
    """Check each distinct image in parallel.

    Args:
        paths (Iterable[str]): Image paths (duplicates are checked once).
        backend_args (dict, optional): mmengine file backend arguments.
        num_workers (int, optional): Threads; default ``min(32, 4 * CPUs)``.
        progress (callable, optional): Called as ``progress(done, total)``
            about every 2% of the work.
        sizes (Mapping, optional): ``{path: (height, width)}`` from the
            annotation file; each image listed must have that size.

    Returns:
        dict: ``{path: problem}`` for the unusable images only.
    """
    unique: Sequence[str] = sorted(set(paths))
    total = len(unique)
    if num_workers is None:
        num_workers = min(32, 4 * (os.cpu_count() or 1))
    step = max(1, total // 50)
    problems: Dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, num_workers)) as pool:
        results = pool.map(
            lambda p: image_problem(p, backend_args, (sizes or {}).get(p)), unique)
        for done, (path, problem) in enumerate(zip(unique, results), 1):
            if problem is not None:
                problems[path] = problem
            if progress is not None and (done % step == 0 or done == total):
                progress(done, total)
    return problems


def describe_bad_samples(bad: List[dict], total: int, where: str) -> str:
    """The error text for bad samples: one line per image, with its ids."""
    by_image: Dict[str, List[dict]] = {}
    for item in bad:
        by_image.setdefault(item['img_path'], []).append(item)
    lines = [f'{len(by_image)} image(s) of {where} cannot be used '
             f'({len(bad)} of {total} samples):']
    for path, items in by_image.items():
        refs = sorted({i['ref_id'] for i in items})
        sents = sorted({i['sent_id'] for i in items if i.get('sent_id') is not None})
        ids = f'ref_id={refs}' + (f', sent_id={sents}' if sents else '')
        lines.append(f'  {path}: {items[0]["reason"]} ({ids})')
    return '\n'.join(lines)
