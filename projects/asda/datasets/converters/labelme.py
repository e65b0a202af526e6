"""labelme JSON files -> the refer format.

Every ``*.json`` under LABELME_DIR (subfolders included) is one labelme
annotation: ``imagePath`` (relative to the JSON file, inside LABELME_DIR;
the image file must be there: an embedded ``imageData`` is not read),
``imageHeight``, ``imageWidth`` and ``shapes``. A shape is a ``polygon``, a
``rectangle`` (two corners) or a ``circle`` (centre, a point on it: stored
as a 32-gon); shapes with the same ``group_id`` and ``label`` are one object.

The expressions are in each shape's ``description`` (labelme >= 5.2), one
per line (``expression_field='description'``, the default; the object's
category is its ``label``), or are the shape's ``label`` itself
(``expression_field='label'``; category ``object``). An object without an
expression is kept as an annotation that no expression names.

Without ``gres``, an expression given to two objects of one image is an
error (it would not say which); with ``gres`` it refers to all of them. A
labelme file cannot say that an expression has no target.

Objects are stored as COCO polygons, so the dataset's mask is their
rasterisation (pycocotools).
"""
import glob
import math
import os.path as osp
from typing import Dict, List, Optional

from ...utils.boxes import mask_box
from ..image_check import image_size
from ..mask_utils import decode_segmentation
from ..refs_io import describe_problems, read_json
from .builder import ReferBuilder
from .rows import ConversionError

__all__ = ['labelme_builder', 'EXPRESSION_FIELDS', 'shape_polygon']

EXPRESSION_FIELDS = ('description', 'label')
#: Corners of the polygon a circle is stored as.
CIRCLE_POINTS = 32


def shape_polygon(shape: dict) -> List[float]:
    """A labelme shape as one COCO polygon ``[x1, y1, x2, y2, ...]``.

    Raises:
        ValueError: a shape type other than polygon, rectangle, circle, or
            too few points.
    """
    kind = shape.get('shape_type') or 'polygon'
    points = shape.get('points')
    if not isinstance(points, list) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in points):
        raise ValueError(f'"points" must be a list of [x, y], got {points!r:.80}')
    points = [(float(x), float(y)) for x, y in points]
    if kind == 'polygon':
        if len(points) < 3:
            raise ValueError(f'a polygon needs at least 3 points, got {len(points)}')
    elif kind == 'rectangle':
        if len(points) != 2:
            raise ValueError(f'a rectangle needs 2 points, got {len(points)}')
        (x0, y0), (x1, y1) = points
        points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    elif kind == 'circle':
        if len(points) != 2:
            raise ValueError(f'a circle needs 2 points, got {len(points)}')
        (cx, cy), (px, py) = points
        r = math.hypot(px - cx, py - cy)
        points = [(cx + r * math.cos(2 * math.pi * k / CIRCLE_POINTS),
                   cy + r * math.sin(2 * math.pi * k / CIRCLE_POINTS))
                  for k in range(CIRCLE_POINTS)]
    else:
        raise ValueError(f'shape_type {kind!r} is not supported (polygon, rectangle, '
                         'circle)')
    return [v for point in points for v in point]


def _texts(shape: dict, field: str) -> List[str]:
    """The expressions of a shape: the lines of its ``field``."""
    value = shape.get(field) or ''
    if not isinstance(value, str):
        return []
    return [' '.join(line.split()) for line in value.splitlines() if line.strip()]


def _load(path: str, root: str, problems: List[str]) -> Optional[dict]:
    """The labelme file's content with its image checked (None: a problem
    was added)."""
    try:
        data = read_json(path)
    except ValueError as err:
        problems.append(str(err))
        return None
    if not isinstance(data, dict) or not isinstance(data.get('shapes'), list) or \
            not isinstance(data.get('imagePath'), str):
        problems.append(f'{path}: not a labelme file (it needs "shapes" and "imagePath")')
        return None
    image = osp.normpath(osp.join(osp.dirname(path), data['imagePath']))
    rel = osp.relpath(image, root)
    if rel == '..' or rel.startswith('..' + osp.sep):
        problems.append(f'{path}: imagePath {data["imagePath"]!r} lies outside {root}')
        return None
    if not osp.isfile(image):
        problems.append(f'{path}: unknown image {data["imagePath"]!r}: no such file {image}')
        return None
    try:
        size = image_size(image)
    except OSError as err:
        problems.append(f'{path}: cannot read image {image}: {err}')
        return None
    given = (data.get('imageHeight'), data.get('imageWidth'))
    if given != size:
        problems.append(f'{path}: imageHeight x imageWidth {given[0]}x{given[1]} differ from '
                        f'the image {image}, {size[0]}x{size[1]}')
        return None
    return dict(data, image=image, file_name=rel.replace(osp.sep, '/'), size=size)


def _objects(data: dict, path: str, field: str, problems: List[str]) -> List[dict]:
    """The file's objects: polygons, label and expressions each."""
    objects: Dict[tuple, dict] = {}
    for k, shape in enumerate(data['shapes']):
        where = f'{path} shape {k}'
        if not isinstance(shape, dict):
            problems.append(f'{where}: expected a dict, got {type(shape).__name__}')
            continue
        try:
            polygon = shape_polygon(shape)
        except (TypeError, ValueError) as err:
            problems.append(f'{where}: {err}')
            continue
        label = str(shape.get('label') or '')
        group = shape.get('group_id')
        key = ('group', group, label) if group is not None else ('shape', k)
        obj = objects.setdefault(key, dict(polygons=[], label=label, texts=[], where=where))
        obj['polygons'].append(polygon)
        obj['texts'] += [t for t in _texts(shape, field) if t not in obj['texts']]
    return list(objects.values())


def _add_file(builder: ReferBuilder, data: dict, objects: List[dict], field: str,
              gres: bool, problems: List[str]) -> None:
    """The image, its objects' annotations and its expressions."""
    image_id = len(builder.images) + 1
    height, width = data['size']
    builder.add_image(image_id, data['file_name'], height, width, data['image'])
    by_text: Dict[str, List[int]] = {}
    wheres: Dict[str, List[str]] = {}
    for obj in objects:
        mask = decode_segmentation(obj['polygons'], height, width, obj['where'])
        if not mask.any():
            problems.append(f'{obj["where"]}: the shape covers no pixel (an empty mask)')
            continue
        ann_id = len(builder.annotations) + 1
        category = obj['label'] if field == 'description' and obj['label'] else 'object'
        builder.add_annotation(dict(
            id=ann_id, image_id=image_id, category_id=builder.category_id(category),
            segmentation=obj['polygons'], area=int(mask.sum()), bbox=mask_box(mask),
            iscrowd=0))
        for text in obj['texts']:
            by_text.setdefault(text, []).append(ann_id)
            wheres.setdefault(text, []).append(obj['where'])
    for text, ann_ids in by_text.items():
        if len(ann_ids) > 1 and not gres:
            problems.append(f'{wheres[text][0]}: the expression {text!r} is given to '
                            f'{len(ann_ids)} objects ({", ".join(wheres[text])}); without '
                            '--gres each expression refers to exactly one object')
            continue
        builder.add_expression(image_id, ann_ids, text, None, None, wheres[text][0],
                               problems)


def labelme_builder(labelme_dir: str, gres: bool = False,
                    expression_field: str = 'description') -> ReferBuilder:
    """Read and check every labelme file and image (nothing is written).

    Raises:
        ConversionError: every problem found (each naming its file and
            shape): an unknown image, an image whose size differs from the
            file's ``imageHeight`` / ``imageWidth``, a shape that covers no
            pixel, an expression given to two objects (without ``gres``),
            an image annotated by two files, an unsupported shape.
    """
    if expression_field not in EXPRESSION_FIELDS:
        raise ValueError(f'expression_field must be one of {EXPRESSION_FIELDS}, got '
                         f'{expression_field!r}')
    if not osp.isdir(labelme_dir):
        raise FileNotFoundError(f'folder not found: {labelme_dir}')
    paths = sorted(glob.glob(osp.join(labelme_dir, '**', '*.json'), recursive=True))
    if not paths:
        raise ConversionError(f'{labelme_dir}: no labelme *.json file')
    builder = ReferBuilder(gres, source=labelme_dir)
    problems: List[str] = []
    owners: Dict[str, str] = {}
    for path in paths:
        data = _load(path, labelme_dir, problems)
        if data is None:
            continue
        owner = owners.setdefault(osp.realpath(data['image']), path)
        if owner != path:
            problems.append(f'{path}: duplicate image {data["file_name"]!r}: {owner} '
                            'annotates it too')
            continue
        objects = _objects(data, path, expression_field, problems)
        _add_file(builder, data, objects, expression_field, gres, problems)
    if problems:
        raise ConversionError(describe_problems(problems))
    return builder
