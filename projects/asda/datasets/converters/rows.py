"""Expression rows: the lines of a JSON Lines file or the rows of a CSV file,
each naming an image and an expression (and, for the converters, its
target). The one reader of such files: the converters and
``demo/batch_demo.py`` ask it, so a row is named the same way in every
error (``FILE line N``).

A JSON Lines file holds one JSON object per line (blank lines are skipped).
A CSV file (``*.csv``) has a header row naming the fields; an empty cell is
an absent field, and a list field (``ann_ids``, ``mask`` of a GRES row) is
written ``[3, 5]`` (JSON) or ``3;5``.
"""
import csv
import json
import os.path as osp
from typing import Any, Dict, List, NamedTuple, Optional

from ...utils.text import check_text
from ..refs_io import describe_problems, image_path_problem

__all__ = ['ConversionError', 'Row', 'read_rows', 'row_ids', 'row_image', 'row_text',
           'int_field', 'list_field']


class ConversionError(ValueError):
    """Bad input of a conversion (or of a batch of rows): the message names
    the file and the row (or shape) of every problem."""


class Row(NamedTuple):
    """One row.

    Attributes:
        where (str): ``FILE line N``, for error messages.
        fields (dict): The row's fields (CSV: str values, empty cells left
            out; JSON Lines: as the line holds them).
    """
    where: str
    fields: Dict[str, Any]


def _json_rows(path: str) -> List[Row]:
    rows, problems = [], []
    with open(path, encoding='utf-8-sig') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f'{path} line {number}'
            try:
                fields = json.loads(line)
            except ValueError as err:
                problems.append(f'{where}: not a JSON object ({err})')
                continue
            if not isinstance(fields, dict):
                problems.append(f'{where}: expected a JSON object, got '
                                f'{type(fields).__name__}')
                continue
            rows.append(Row(where, fields))
    if problems:
        raise ConversionError(describe_problems(problems))
    return rows


def _csv_rows(path: str) -> List[Row]:
    with open(path, encoding='utf-8-sig', newline='') as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise ConversionError(f'{path}: no header row (the CSV needs one naming '
                                  'its fields, e.g. image,expression)')
        rows = []
        start = reader.line_num + 1
        for fields in reader:
            if None in fields:
                raise ConversionError(f'{path} line {start}: more cells than the '
                                      f'header has fields ({reader.fieldnames})')
            values = {k: v.strip() for k, v in fields.items()
                      if v is not None and v.strip()}
            if values:
                rows.append(Row(f'{path} line {start}', values))
            start = reader.line_num + 1
    return rows


def read_rows(path: str, required=('image', 'expression')) -> List[Row]:
    """The rows of ``path`` (``*.csv``: CSV; any other name: JSON Lines).

    Args:
        path (str): The file.
        required (Sequence[str]): Fields every row must have.

    Raises:
        FileNotFoundError: no such file.
        ConversionError: a line that is no JSON object, a CSV without a
            header, a row without a required field, a file without rows.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'expressions file not found: {path}')
    rows = _csv_rows(path) if path.lower().endswith('.csv') else _json_rows(path)
    if not rows:
        raise ConversionError(f'{path}: no rows')
    problems = [f'{row.where}: no "{key}"' for row in rows for key in required
                if row.fields.get(key) in (None, '')]
    if problems:
        raise ConversionError(describe_problems(problems))
    return rows


def row_text(row: Row, problems: List[str]) -> Optional[str]:
    """The row's ``expression`` (:func:`asda.utils.text.check_text`'s
    rule), else None with the problem added."""
    try:
        return check_text(row.fields.get('expression'), f'{row.where}: "expression"')
    except (TypeError, ValueError) as err:
        problems.append(str(err))
        return None


def row_image(row: Row, image_dir: str, problems: List[str]) -> Optional[str]:
    """The row's ``image``: a path under ``image_dir`` that stays inside it
    (normalised, ``/`` separated) and is a file, else None with the
    problem (an unknown image) added."""
    name = row.fields.get('image')
    if not isinstance(name, str) or not name:
        problems.append(f'{row.where}: "image" must be a file name, got {name!r}')
        return None
    outside = image_path_problem(name)
    if outside:
        problems.append(f'{row.where}: image {outside}')
        return None
    name = osp.normpath(name).replace(osp.sep, '/')
    if not osp.isfile(osp.join(image_dir, name)):
        problems.append(f'{row.where}: unknown image {name!r}: no such file in {image_dir}')
        return None
    return name


def row_ids(rows: List[Row], problems: List[str]) -> List[Optional[str]]:
    """Each row's optional ``id`` (as a str; None where absent); an ``id``
    given on two rows is a problem naming both."""
    ids, seen = [], {}
    for row in rows:
        value = row.fields.get('id')
        if value is None or value == '':
            ids.append(None)
            continue
        key = str(value)
        if key in seen:
            problems.append(f'{row.where}: duplicate id {value!r} (also on {seen[key]})')
        seen.setdefault(key, row.where)
        ids.append(key)
    return ids


def int_field(row: Row, key: str, problems: List[str]) -> Optional[int]:
    """The row's field ``key`` as an int (CSV text too); None where absent
    or bad (then with the problem added)."""
    value = row.fields.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    problems.append(f'{row.where}: "{key}" must be an integer, got {value!r}')
    return None


def list_field(row: Row, key: str, problems: List[str]) -> Optional[list]:
    """The row's field ``key`` as a list: a JSON list, a scalar as a list of
    one, CSV text ``[...]`` (JSON) or ``a;b``; None where absent."""
    value = row.fields.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith('['):
            try:
                value = json.loads(text)
            except ValueError as err:
                problems.append(f'{row.where}: "{key}" is no JSON list ({err})')
                return None
        else:
            value = [v.strip() for v in text.split(';') if v.strip()]
    if not isinstance(value, list):
        value = [value]
    return value
