"""Mask PNGs + expression rows -> the refer format.

A row (:mod:`.rows`) has ``image`` (a file under IMAGE_DIR), ``expression``
and its target:

* ``mask``: a PNG under MASK_DIR holding the object: a binary mask (any
  value > 0 in any colour channel is the object; an alpha channel is
  ignored), or, with ``instance_id``, an instance-id PNG (one channel: 8- or
  16-bit grey, or palette indices) whose pixels equal to ``instance_id``
  are the object;
* with ``--gres``: ``mask`` may list several files (several targets), or
  ``instance_ids`` several ids of one instance-id PNG; no ``mask`` (or an
  empty list) is an expression without a target.

Optional fields: ``split`` (splits by image; all rows or none), ``category``
(a name; default ``object``) and ``id`` (unique; kept as the sentence's
``row_id``). Rows naming the same target (file and instance id) share one
annotation, stored as a compressed RLE, so the dataset's mask equals the
PNG's pixel for pixel.
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from ...utils.boxes import mask_box
from ..image_check import image_size
from ..mask_utils import encode_mask
from ..refs_io import describe_problems, image_path_problem
from .builder import ReferBuilder
from .rows import (
    ConversionError,
    Row,
    int_field,
    list_field,
    read_rows,
    row_ids,
    row_image,
    row_text,
)

__all__ = ['masks_builder', 'read_mask_png']

Target = Tuple[str, Optional[int]]  # (mask file, instance id or None)


def read_mask_png(path: str) -> np.ndarray:
    """The PNG's values: (H, W) for one channel (grey, 16-bit, palette
    indices, 1-bit), (H, W, C) for colour."""
    with Image.open(path) as img:
        if img.mode == 'P':  # the indices, not the palette's colours
            return np.asarray(img)
        if img.mode in ('RGBA', 'LA', 'PA'):
            img = img.convert('RGB' if img.mode == 'RGBA' else 'L')
        return np.asarray(img)


def _object(values: np.ndarray, instance_id: Optional[int], name: str,
            where: str, problems: List[str]) -> Optional[np.ndarray]:
    """The (H, W) bool object of a mask file's ``values``."""
    if instance_id is None:
        return values > 0 if values.ndim == 2 else (values > 0).any(axis=2)
    if values.ndim != 2:
        problems.append(f'{where}: mask {name} has {values.shape[2]} colour channels; an '
                        'instance-id PNG (instance_id) must have one (grey or palette)')
        return None
    return values == instance_id


def _row_targets(row: Row, gres: bool, problems: List[str]) -> List[Target]:
    """The row's targets: (mask file, instance id or None) each."""
    if not gres:
        mask = row.fields.get('mask')
        ids = list_field(row, 'instance_ids', problems)
        if mask is None:
            return []
        if not isinstance(mask, str) or (ids is not None and len(ids) != 1):
            problems.append(f'{row.where}: one "mask" file (and one instance id) per row, '
                            f'got mask={mask!r}, instance_ids={ids!r}; several targets need '
                            '--gres')
            return []
        if ids is not None:
            row = Row(row.where, dict(instance_id=ids[0]))
        return [(mask, int_field(row, 'instance_id', problems))]
    masks = list_field(row, 'mask', problems) or []
    bad = [m for m in masks if not isinstance(m, str) or not m]
    if bad:
        problems.append(f'{row.where}: "mask" must list file names, got {bad[0]!r}')
        return []
    ids = list_field(row, 'instance_ids', problems)
    if ids is None and row.fields.get('instance_id') is not None:
        ids = [row.fields['instance_id']]
    if ids is None:
        return [(m, None) for m in masks]
    if len(masks) != 1:
        problems.append(f'{row.where}: instance ids need exactly one "mask" file, got {masks}')
        return []
    parsed = [int_field(Row(row.where, dict(instance_id=i)), 'instance_id', problems)
              for i in ids]
    return [(masks[0], i) for i in parsed if i is not None]


class _MaskReader:
    """The annotations of one image's mask files (each file read once)."""

    def __init__(self, builder: ReferBuilder, mask_dir: str, image_id: int,
                 size: Tuple[int, int]):
        self.builder, self.mask_dir, self.image_id = builder, mask_dir, image_id
        self.size = size
        self.values: Dict[str, np.ndarray] = {}
        self.ann_ids: Dict[Target, int] = {}

    def _values(self, name: str, where: str, problems: List[str]) -> Optional[np.ndarray]:
        if name in self.values:
            return self.values[name]
        outside = image_path_problem(name)
        path = osp.join(self.mask_dir, name)
        if outside or not osp.isfile(path):
            problems.append(f'{where}: unknown mask {name!r}: ' + (
                outside or f'no such file in {self.mask_dir}'))
            return None
        try:
            values = read_mask_png(path)
        except OSError as err:
            problems.append(f'{where}: cannot read mask {path}: {err}')
            return None
        if values.shape[:2] != self.size:
            problems.append(f'{where}: mask {name} is {values.shape[0]}x{values.shape[1]} '
                            f'(height x width), its image {self.size[0]}x{self.size[1]}')
            return None
        self.values[name] = values
        return values

    def ann_id(self, target: Target, row: Row, problems: List[str]) -> Optional[int]:
        """The annotation id of ``target`` (added when new), or None."""
        if target in self.ann_ids:
            return self.ann_ids[target]
        name, instance_id = target
        values = self._values(name, row.where, problems)
        if values is None:
            return None
        obj = _object(values, instance_id, name, row.where, problems)
        if obj is None:
            return None
        if not obj.any():
            what = f'instance {instance_id} of mask {name}' if instance_id is not None \
                else f'mask {name}'
            problems.append(f'{row.where}: {what} is empty (no object pixel)')
            return None
        ann_id = len(self.builder.annotations) + 1
        self.builder.add_annotation(dict(
            id=ann_id, image_id=self.image_id,
            category_id=self.builder.category_id(str(row.fields.get('category') or 'object')),
            segmentation=encode_mask(obj), area=int(obj.sum()), bbox=mask_box(obj),
            iscrowd=0))
        self.ann_ids[target] = ann_id
        return ann_id


def masks_builder(expressions: str, image_dir: str, mask_dir: str,
                  gres: bool = False) -> ReferBuilder:
    """Read and check every row, mask and image (nothing is written).

    Args:
        expressions (str): The rows (CSV or JSON Lines; see the module).
        image_dir (str): The folder the rows' ``image`` names are under.
        mask_dir (str): The folder the rows' ``mask`` names are under.
        gres (bool): Expressions may have several targets or none.

    Returns:
        ReferBuilder: Ready to :meth:`~ReferBuilder.write`.

    Raises:
        ConversionError: every problem found (each naming its file and
            row): an unknown image or mask, a mask of another size than its
            image, an empty mask, an expression without a target (without
            ``gres``), a duplicate ``id``, a mask file given for two images.
    """
    for folder in (image_dir, mask_dir):
        if not osp.isdir(folder):
            raise FileNotFoundError(f'folder not found: {folder}')
    rows = read_rows(expressions)
    problems: List[str] = []
    ids = row_ids(rows, problems)
    by_image: Dict[str, List[Tuple[Row, Optional[str]]]] = {}
    for row, row_id in zip(rows, ids):
        name = row_image(row, image_dir, problems)
        if name is not None:
            by_image.setdefault(name, []).append((row, row_id))
    builder = ReferBuilder(gres, source=expressions)
    mask_images: Dict[str, str] = {}
    for image_id, name in enumerate(sorted(by_image), 1):
        path = osp.join(image_dir, name)
        try:
            size = image_size(path)
        except OSError as err:
            problems.append(f'{by_image[name][0][0].where}: cannot read image {path}: {err}')
            continue
        builder.add_image(image_id, name, size[0], size[1], path)
        reader = _MaskReader(builder, mask_dir, image_id, size)
        for row, row_id in by_image[name]:
            text = row_text(row, problems)
            targets = _row_targets(row, gres, problems)
            _check_mask_image(row, name, targets, mask_images, problems)
            targets = [reader.ann_id(t, row, problems) for t in targets]
            if text is None or None in targets:
                continue
            split = row.fields.get('split')
            builder.add_expression(image_id, targets, text,
                                   None if split is None else str(split), row_id,
                                   row.where, problems)
    if problems:
        raise ConversionError(describe_problems(problems))
    return builder


def _check_mask_image(row: Row, image: str, targets: List[Target],
                      mask_images: Dict[str, tuple], problems: List[str]) -> None:
    """A mask file belongs to one image: one given for two is a problem."""
    for name, _ in targets:
        first = mask_images.setdefault(osp.normpath(name), (image, row.where))
        if first[0] != image:
            problems.append(f'{row.where}: mask {name} is given for image {image}, and for '
                            f'image {first[0]} on {first[1]}')
