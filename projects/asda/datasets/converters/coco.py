"""COCO instances + expression rows -> the refer format.

INSTANCES_JSON is a COCO instances file (polygons or RLE); IMAGE_DIR holds
its images by ``file_name``. A row (:mod:`.rows`) has ``image`` (the
image's ``file_name``) or ``image_id``, ``expression`` and its target:
``ann_id``, or ``ann_ids`` (a list; with ``--gres`` it may hold several
annotations or none, an expression without a target). Optional: ``split``
(splits by image; all rows or none) and ``id`` (unique; kept as the
sentence's ``row_id``).

The output keeps the COCO ids, categories and segmentations; it holds the
images the rows use and all their annotations (the objects no expression
names stay as they are in COCO).
"""
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional

from ..image_check import image_size
from ..mask_utils import decode_segmentation
from ..refs_io import describe_problems, index_instances, read_json
from .builder import ReferBuilder
from .rows import ConversionError, Row, int_field, list_field, read_rows, row_ids, row_text

__all__ = ['coco_builder']


def _load_coco(path: str) -> tuple:
    """The checked instances file: (Instances, file name -> image id, its
    categories)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'instances file not found: {path}')
    try:
        coco = read_json(path)
    except ValueError as err:
        raise ConversionError(str(err)) from err
    instances, problems = index_instances(coco, path)
    if instances is not None:
        problems += _duplicates(coco, path)
    if problems:
        raise ConversionError(describe_problems(problems))
    by_name = {osp.normpath(img['file_name']).replace(osp.sep, '/'): i
               for i, img in instances.images.items()}
    categories = [dict(c) for c in coco.get('categories') or [] if isinstance(c, dict)]
    return instances, by_name, categories


def _duplicates(coco: dict, path: str) -> List[str]:
    """Image ids, image file names and annotation ids given twice."""
    problems = []
    for key, group, what in (('id', 'images', 'image id'),
                             ('file_name', 'images', 'image file_name'),
                             ('id', 'annotations', 'annotation id')):
        where = defaultdict(list)
        for k, entry in enumerate(coco[group]):
            if isinstance(entry, dict) and entry.get(key) is not None:
                where[entry[key]].append(f'#{k}')
        problems += [f'{path}: duplicate {what} {value!r} ({group} {", ".join(entries)})'
                     for value, entries in where.items() if len(entries) > 1]
    return problems


def _row_image_id(row: Row, by_name: Dict[str, int], instances, problems) -> Optional[int]:
    name = row.fields.get('image')
    if name is not None:
        image_id = by_name.get(osp.normpath(str(name)).replace(osp.sep, '/'))
        if image_id is None:
            problems.append(f'{row.where}: unknown image {name!r}: no image of '
                            f'{instances.path} has that file_name')
        return image_id
    image_id = int_field(row, 'image_id', problems)
    if image_id is None:
        if row.fields.get('image_id') is None:
            problems.append(f'{row.where}: no "image" (file name) nor "image_id"')
        return None
    if image_id not in instances.images:
        problems.append(f'{row.where}: unknown image id={image_id}: not in {instances.path}')
        return None
    return image_id


def _row_ann_ids(row: Row, problems: List[str]) -> Optional[List[int]]:
    values = list_field(row, 'ann_ids', problems)
    if values is None:
        values = [] if row.fields.get('ann_id') is None else [row.fields['ann_id']]
    ids = [int_field(Row(row.where, dict(ann_id=v)), 'ann_id', problems) for v in values]
    return None if None in ids else ids


class _TargetCheck:
    """Each target annotation lies on its row's image and decodes to a
    non-empty mask of the image's size (each checked once)."""

    def __init__(self, instances):
        self.instances = instances
        self.checked: Dict[int, Optional[str]] = {}

    def problem(self, ann_id: int, image_id: int) -> Optional[str]:
        ann = self.instances.anns.get(ann_id)
        if ann is None:
            return f'unknown annotation id={ann_id}: not in {self.instances.path}'
        if ann.get('image_id') != image_id:
            return (f'annotation id={ann_id} lies on image id={ann.get("image_id")}, not '
                    f'on the row\'s image id={image_id}')
        if ann_id not in self.checked:
            img = self.instances.images[image_id]
            try:
                mask = decode_segmentation(ann.get('segmentation'), img['height'],
                                           img['width'], f'annotation id={ann_id}')
                self.checked[ann_id] = None if mask.any() else \
                    f'annotation id={ann_id}: its mask is empty (no object pixel)'
            except ValueError as err:
                self.checked[ann_id] = str(err)
        return self.checked[ann_id]


def _image_problem(img: dict, path: str) -> Optional[str]:
    """Why the image file does not fit its entry (None: it does)."""
    if not osp.isfile(path):
        return f'unknown image {img["file_name"]!r}: no such file {path}'
    try:
        size = image_size(path)
    except OSError as err:
        return f'cannot read image {path}: {err}'
    if size != (img['height'], img['width']):
        return (f'image {path} is {size[0]}x{size[1]} (height x width), its entry '
                f'id={img["id"]} says {img["height"]}x{img["width"]}')
    return None


def coco_builder(instances_json: str, expressions: str, image_dir: str,
                 gres: bool = False) -> ReferBuilder:
    """Read and check the instances, every row and every image they use
    (nothing is written).

    Raises:
        ConversionError: every problem found (each naming its file and
            row): an unknown image or annotation, an image file of another
            size than its entry (or an RLE of another size), an empty
            target mask, an expression without a target (without
            ``gres``), a duplicate image / annotation id or row ``id``.
    """
    if not osp.isdir(image_dir):
        raise FileNotFoundError(f'folder not found: {image_dir}')
    instances, by_name, categories = _load_coco(instances_json)
    rows = read_rows(expressions, required=('expression',))
    problems: List[str] = []
    ids = row_ids(rows, problems)
    builder = ReferBuilder(gres, source=expressions)
    builder.categories = categories
    targets, image_problems = _TargetCheck(instances), {}
    for row, row_id in zip(rows, ids):
        image_id = _row_image_id(row, by_name, instances, problems)
        text = row_text(row, problems)
        ann_ids = _row_ann_ids(row, problems)
        if image_id is None or text is None or ann_ids is None:
            continue
        img = instances.images[image_id]
        path = osp.join(image_dir, img['file_name'])
        if image_id not in image_problems:
            image_problems[image_id] = _image_problem(img, path)
        found = [targets.problem(a, image_id) for a in ann_ids]
        found = [image_problems[image_id]] + found
        if any(found):
            problems += [f'{row.where}: {p}' for p in found if p]
            continue
        if image_id not in builder.images:
            builder.add_image(image_id, img['file_name'], img['height'], img['width'], path)
        split = row.fields.get('split')
        builder.add_expression(image_id, ann_ids, text, None if split is None else str(split),
                               row_id, row.where, problems)
    if problems:
        raise ConversionError(describe_problems(problems))
    for ann in instances.anns.values():
        if ann.get('image_id') in builder.images:
            builder.add_annotation(ann)
    return builder
