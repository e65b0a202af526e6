"""Batch inference that can be stopped and resumed: ``demo/batch_demo.py``.

Rows come from a folder (every image with every expression given) or from
a CSV / JSON Lines file of ``image`` and ``expression`` (and an optional
unique ``id``), read by the converters' one row reader
(:mod:`asda.datasets.converters.rows`). Each row gives ``OUT/masks/<row
number>.png`` (0 / 255) and an entry of ``OUT/results.json``::

    {"config": ..., "checkpoint": ..., "rows": [
        {"row": 1, "id": ..., "image": ..., "expression": ...,
         "mask_file": "masks/000001.png",
         "rle": {"size": [h, w], "counts": ...},  # COCO compressed RLE
         "box": [x, y, w, h] | null, "score": ..., "afs_layers": [low, mid],
         "no_target": ..., "truncated": ...,
         "instances": [{"rle", "box", "area", "score"}, ...] | null}, ...]}

(``box``, ``score`` and ``instances``: :class:`RISInferencer`'s.) Both are
written atomically (:mod:`asda.utils.atomic`): a killed run leaves the
results of the rows it had saved, whole. Run again with the same arguments,
it skips every row ``results.json`` holds (with its mask file) and does the
rest.

Before the model is built, :func:`check_row_images` reads every image's
header (a missing file, or one above the pixel limit of
:mod:`asda.apis.image_io`, stops the batch there, naming each such row). An
image that fails later (its data is corrupt) stops the run at its row, named,
with every row done before it saved.
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import cv2
import numpy as np

from ..datasets.converters.rows import ConversionError, read_rows, row_ids, row_image, row_text
from ..datasets.mask_utils import encode_mask
from ..datasets.refs_io import describe_problems
from ..utils.arg_types import IMAGE_EXTENSIONS
from ..utils.atomic import atomic_write, write_json
from ..utils.progress import progress_bar
from ..utils.text import check_text
from .image_io import DEFAULT_MAX_PIXELS, ImageTooLargeError, check_image_file

__all__ = ['BatchRow', 'folder_rows', 'file_rows', 'check_row_images', 'run_batch',
           'RESULTS_FILE']

RESULTS_FILE = 'results.json'


class BatchRow(NamedTuple):
    """One (image, expression) to segment.

    Attributes:
        row (int): Its number (from 1), which names its mask file.
        id (str, optional): The input's ``id``.
        image (str): The image as the input names it.
        path (str): The image file.
        expression (str): The expression.
    """
    row: int
    id: Optional[str]
    image: str
    path: str
    expression: str


def folder_rows(folder: str, expressions: Sequence[str]) -> List[BatchRow]:
    """Every image of ``folder`` (by name; the extensions of
    :data:`asda.utils.arg_types.IMAGE_EXTENSIONS`) with each expression."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'folder not found: {folder}')
    if not expressions:
        raise ValueError('a folder of images needs at least one --expression')
    texts = [check_text(t, f'--expression {k + 1}') for k, t in enumerate(expressions)]
    names = sorted(n for n in os.listdir(folder)
                   if osp.splitext(n)[1].lower() in IMAGE_EXTENSIONS
                   and osp.isfile(osp.join(folder, n)))
    if not names:
        raise FileNotFoundError(f'no image in {folder} ({", ".join(IMAGE_EXTENSIONS)})')
    pairs = [(n, t) for n in names for t in texts]
    return [BatchRow(k, None, n, osp.join(folder, n), t) for k, (n, t) in enumerate(pairs, 1)]


def file_rows(path: str, image_dir: Optional[str] = None) -> List[BatchRow]:
    """The rows of a CSV / JSON Lines file; images under ``image_dir``
    (default: the file's folder).

    Raises:
        ConversionError: every bad row (an unknown image, an empty
            expression, a duplicate ``id``), each naming its line.
    """
    image_dir = osp.dirname(osp.abspath(path)) if image_dir is None else image_dir
    rows = read_rows(path)
    problems: List[str] = []
    ids = row_ids(rows, problems)
    out = []
    for k, (row, row_id) in enumerate(zip(rows, ids), 1):
        image, text = row_image(row, image_dir, problems), row_text(row, problems)
        if image is not None and text is not None:
            out.append(BatchRow(k, row_id, image, osp.join(image_dir, image), text))
    if problems:
        raise ConversionError(describe_problems(problems))
    return out


def check_row_images(rows: List[BatchRow],
                     max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> None:
    """Every row's image exists and has at most ``max_pixels`` pixels, read
    from its header (nothing is decoded).

    Raises:
        ConversionError: every bad image, each naming the first row that
            uses it.
    """
    problems: List[str] = []
    seen = set()
    for row in rows:
        if row.path in seen:
            continue
        seen.add(row.path)
        try:
            check_image_file(row.path, max_pixels, f'row {row.row} ({row.image})')
        except (FileNotFoundError, ImageTooLargeError) as err:
            problems.append(str(err))
    if problems:
        raise ConversionError(describe_problems(problems))


def _mask_file(row: BatchRow) -> str:
    return f'masks/{row.row:06d}.png'


def _entry(row: BatchRow, result: dict) -> dict:
    """The results.json entry of one row's inferencer result."""
    instances = result.get('instances')
    layers = result.get('afs_layers')
    return dict(
        row=row.row, id=row.id, image=row.image, expression=row.expression,
        mask_file=_mask_file(row), rle=encode_mask(result['mask']), box=result['box'],
        score=float(result['score']), afs_layers=None if layers is None else list(layers),
        no_target=result.get('no_target'), truncated=bool(result.get('truncated')),
        instances=None if instances is None else [
            dict(rle=encode_mask(p['mask']), box=p['box'], area=p['area'], score=p['score'])
            for p in instances])


def _finished(out_dir: str, rows: List[BatchRow], meta: dict) -> Dict[int, dict]:
    """The entries of an earlier run that this one keeps, by row.

    Raises:
        ValueError: results.json comes from another model, or holds a row
            for another image or expression.
    """
    path = osp.join(out_dir, RESULTS_FILE)
    if not osp.isfile(path):
        return {}
    try:
        with open(path, encoding='utf-8') as f:
            done = json.load(f)
    except ValueError as err:
        raise ValueError(f'{path} cannot be read as JSON ({err}); use another output '
                         'folder') from err
    for key, value in meta.items():
        if done.get(key) != value:
            raise ValueError(f'{path} was written with {key} {done.get(key)!r}, this run '
                             f'has {value!r}; use another output folder')
    by_row = {r.row: r for r in rows}
    kept = {}
    for entry in done.get('rows', []):
        row = by_row.get(entry['row'])
        if row is None or (entry['image'], entry['expression']) != (row.image, row.expression):
            raise ValueError(
                f'{path}: row {entry["row"]} is ({entry["image"]!r}, {entry["expression"]!r}), '
                f'not a row of this input; use another output folder')
        if osp.isfile(osp.join(out_dir, entry['mask_file'])):
            kept[row.row] = entry
    return kept


def _groups(rows: List[BatchRow]) -> List[List[BatchRow]]:
    """Consecutive rows of one image: one inferencer call each."""
    groups: List[List[BatchRow]] = []
    for row in rows:
        if groups and groups[-1][0].path == row.path:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def run_batch(inferencer: Callable, rows: List[BatchRow], out_dir: str, meta: dict,
              save_every: int = 10, progress: bool = True) -> dict:
    """Segment every row not done yet; see the module.

    Args:
        inferencer (Callable): ``inferencer(image_path, [expressions])`` ->
            one result per expression (:class:`asda.apis.RISInferencer`).
        rows (list[BatchRow]): The rows.
        out_dir (str): Where ``masks/`` and ``results.json`` go.
        meta (dict): What the results come from (``config``,
            ``checkpoint``): stored, and an earlier run's must match.
        save_every (int): Rows between two writes of ``results.json`` (at
            least; it is written when an image's rows are done).
        progress (bool): Show a progress bar on a terminal
            (:mod:`asda.utils.progress`).

    Returns:
        dict: ``results_file``, ``done`` (rows run now), ``skipped`` (rows
        an earlier run finished) and ``rows`` (all entries).
    """
    if save_every < 1:
        raise ValueError(f'save_every must be >= 1, got {save_every}')
    os.makedirs(osp.join(out_dir, 'masks'), exist_ok=True)
    entries = _finished(out_dir, rows, meta)
    skipped = len(entries)
    todo = [r for r in rows if r.row not in entries]
    results_file = osp.join(out_dir, RESULTS_FILE)

    def save():
        write_json(results_file, dict(meta, rows=[entries[k] for k in sorted(entries)]),
                   indent=None)

    bar = progress_bar(len(todo), f'segmenting {len(todo)} rows') \
        if progress and todo else None
    unsaved = 0
    try:
        for group in _groups(todo):
            try:
                results = inferencer(group[0].path, [r.expression for r in group])
            except (OSError, ValueError) as err:  # e.g. image data corrupt past its header
                raise ValueError(f'row {group[0].row} ({group[0].image}): {err}; the rows '
                                 f'done before it are saved in {results_file}: fix or drop '
                                 'the row and run again to go on') from err
            for row, result in zip(group, results):
                ok, png = cv2.imencode('.png', np.asarray(result['mask'], np.uint8) * 255)
                if not ok:
                    raise OSError(f'cannot encode the mask of row {row.row}')
                atomic_write(osp.join(out_dir, _mask_file(row)), png.tobytes())
                entries[row.row] = _entry(row, result)
                unsaved += 1
                if bar is not None:
                    bar.update()
            if unsaved >= save_every:
                save()
                unsaved = 0
    finally:  # a failure or an interrupt keeps every row done
        if unsaved:
            save()
        if bar is not None:
            bar.close()
    if not osp.isfile(results_file):
        save()
    return dict(results_file=results_file, done=len(todo), skipped=skipped,
                rows=[entries[k] for k in sorted(entries)])
