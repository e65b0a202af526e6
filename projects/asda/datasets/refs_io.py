"""Reading and checking the refer release's files: the ``refs(<split_by>).p``
pickles, gRefCOCO's ``grefs(unc).json`` / ``grefs(unc).p`` and COCO
``instances.json``.

The pickles come from the internet. :class:`RestrictedUnpickler` admits only
builtin containers and scalars; any other global (``os.system``,
``copy_reg._reconstructor``, a class, ...) is refused before it can be
called, with an error naming the file.

Python 2 pickles (the refer release's) hold their text as byte strings.
Each is decoded as UTF-8; one that is not valid UTF-8 (e.g. a Latin-1
``caf\xe9``) is decoded as Latin-1, that string alone, with a
:class:`RefsEncodingWarning` naming the file, the refs and the fields.

The rules a refs file and an instances file must follow are written here
once (:func:`refs_problems`, :func:`index_instances`); the datasets raise
on them and ``tools/dataset_converters/check_refer_data.py`` lists them.
"""
import io
import json
import os.path as osp
import pickle
import re
import warnings
from collections import Counter
from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from ..utils.text import check_text

__all__ = ['RestrictedUnpickler', 'Instances', 'RefsEncodingWarning', 'check_refs',
           'describe_problems',
           'index_instances', 'load_refs', 'read_json', 'read_refs', 'ref_problems',
           'refs_problems', 'refs_with_sentences']
#: The only globals a refs pickle may reference (Python 2 pickles name
#: ``__builtin__``, which ``fix_imports`` maps to ``builtins``).
SAFE_BUILTINS = frozenset({
    'dict', 'list', 'tuple', 'set', 'frozenset', 'str', 'bytes', 'bytearray',
    'int', 'float', 'complex', 'bool'
})

#: Keys every ref must carry.
REF_KEYS = ('ref_id', 'ann_id', 'image_id', 'split', 'sentences')


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds builtin containers and scalars.

    Args:
        file: Binary file object.
        filename (str): Named in error messages.
        **kwargs: Passed to :class:`pickle.Unpickler`.
    """

    def __init__(self, file, filename: str = '<pickle>', **kwargs):
        super().__init__(file, **kwargs)
        self.filename = filename

    def find_class(self, module: str, name: str) -> Any:
        if module == 'builtins' and name in SAFE_BUILTINS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f'{self.filename}: refused to load global {module}.{name}; a refs '
            'pickle may only hold builtin containers and scalars (dict, list, '
            'tuple, set, str, int, float, bool, None). The file is corrupt or '
            'malicious and was not loaded.')


class RefsEncodingWarning(UserWarning):
    """Strings of a refs pickle are not UTF-8 and were decoded as Latin-1."""


def _unpickle(data: bytes, filename: str, errors: str = 'strict') -> Any:
    return RestrictedUnpickler(io.BytesIO(data), filename=filename,
                               encoding='utf-8', errors=errors).load()


#: What ``surrogateescape`` makes of the bytes that are not UTF-8.
_ESCAPED = re.compile('[\udc80-\udcff]')


def _latin1_strings(value: Any, where: str, found: list) -> Any:
    """``value`` with every string that holds bytes UTF-8 could not decode
    (escaped as surrogates) decoded as Latin-1 instead; each one's place
    (``where``) is appended to ``found``."""
    if isinstance(value, str):
        if not _ESCAPED.search(value):
            return value
        fixed = value.encode('utf-8', 'surrogateescape').decode('latin-1')
        found.append(f'{where or "the file"} {fixed!r}')
        return fixed
    if isinstance(value, dict):
        return {_latin1_strings(k, f'{where} key', found):
                _latin1_strings(v, f'{where}.{k}' if where else str(k), found)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_latin1_strings(v, f'{where}[{i}]', found)
                 for i, v in enumerate(value)]
        return items if isinstance(value, list) else type(value)(items)
    return value


def _per_string_latin1(data: bytes, path: str) -> Any:
    """Unpickle ``data``, whose strings are not all UTF-8: each string that
    is not is decoded as Latin-1, the others as UTF-8, with a warning naming
    the refs and fields."""
    refs = _unpickle(data, path, errors='surrogateescape')
    found: list = []
    if isinstance(refs, list):
        fixed = []
        for i, ref in enumerate(refs):
            fields: list = []
            fixed.append(_latin1_strings(ref, '', fields))
            found += [f'{_ref_name(fixed[-1], i)} {field}' for field in fields]
        refs = fixed
    else:
        refs = _latin1_strings(refs, '', found)
    shown = '; '.join(found[:20]) + (f'; ... ({len(found) - 20} more)'
                                     if len(found) > 20 else '')
    warnings.warn(
        f'{path}: {len(found)} string(s) are not UTF-8 and were decoded as '
        f'Latin-1 (the other strings as UTF-8): {shown}. Check them; if the '
        'file uses another encoding, convert it to UTF-8.',
        RefsEncodingWarning, stacklevel=4)
    return refs


def read_json(path: str) -> Any:
    """The content of the JSON file at ``path`` (UTF-8): an instances file,
    a labelme file.

    Raises:
        ValueError: it cannot be read, or is no JSON; the message names the
            file and why.
    """
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise ValueError(f'{path}: cannot be read as JSON ({err})') from err


def _looks_like_json(data: bytes) -> bool:
    """Whether ``data`` is JSON text: a JSON list or object starts with
    ``[`` or ``{``, which are no pickle opcodes."""
    return data.lstrip(b'\xef\xbb\xbf \t\r\n')[:1] in (b'[', b'{')


def _read_json(data: bytes, path: str) -> Any:
    try:
        return json.loads(data.decode('utf-8-sig'))
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f'{path}: cannot read the refs file as JSON: '
                         f'{err}') from err


def _read_pickle(data: bytes, path: str) -> Any:
    try:
        try:
            return _unpickle(data, path)
        except UnicodeDecodeError:
            return _per_string_latin1(data, path)
    except pickle.UnpicklingError:
        raise
    except Exception as err:  # truncated file, not a pickle, ...
        raise pickle.UnpicklingError(
            f'{path}: cannot read the refs pickle: {err!r}') from err


def _is_int(value) -> bool:
    """An int that is not a bool (ids of the refer release are ints)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _ref_name(ref: Any, index: int) -> str:
    """``ref_id=X`` (or ``ref #i`` when the ref has no ``ref_id``)."""
    if isinstance(ref, dict) and 'ref_id' in ref:
        return f'ref_id={ref["ref_id"]!r}'
    return f'ref #{index}'


def _sentence_problems(sentences: list) -> List[str]:
    problems = []
    for j, sent in enumerate(sentences):
        if not isinstance(sent, dict) or 'sent' not in sent or \
                'sent_id' not in sent:
            problems.append(f'sentence #{j} needs "sent" and "sent_id", got '
                            f'{sent!r}')
            continue
        try:
            check_text(sent['sent'], f'sentence #{j} (sent_id={sent["sent_id"]!r}): '
                       '"sent"')
        except (TypeError, ValueError) as err:
            problems.append(str(err))
    return problems


def ref_problems(ref: Any, path: str, index: int = 0) -> List[str]:
    """What is wrong with one ref on its own (``[]``: nothing).

    A ref is a dict with the keys of :data:`REF_KEYS`; ``ref_id`` and
    ``image_id`` are ints, ``split`` a str, ``sentences`` a list of dicts
    with ``sent_id`` and a ``sent`` the text encoder takes
    (:func:`asda.utils.text.check_text`: a non-blank str).
    An empty ``sentences`` list is no problem: see
    :func:`refs_with_sentences`.
    Refs and grefs share these rules; their targets need the instances
    (:meth:`asda.datasets.RefCOCODataset.ref_problems`).

    Args:
        ref: One entry of the refs file.
        path (str): The refs file, named in the problems.
        index (int): Its position, named when it has no ``ref_id``.

    Returns:
        list[str]: The problems (``ref_id=X of FILE: ...``).
    """
    if not isinstance(ref, dict):
        return [f'ref #{index} of {path} is a {type(ref).__name__}, expected a dict']
    missing = [k for k in REF_KEYS if k not in ref]
    if missing:
        return [f'ref #{index} (ref_id={ref.get("ref_id")!r}) of {path} lacks the '
                f'keys {missing}']
    problems = [f'{key} must be an integer, got {ref[key]!r}'
                for key in ('ref_id', 'image_id') if not _is_int(ref[key])]
    if not isinstance(ref['split'], str):
        problems.append(f'split must be a str, got {ref["split"]!r}')
    if isinstance(ref['sentences'], (list, tuple)):
        problems += _sentence_problems(ref['sentences'])
    else:
        problems.append(f'"sentences" is a {type(ref["sentences"]).__name__}, '
                        'expected a list')
    return [f'{_ref_name(ref, index)} of {path}: {p}' for p in problems]


def refs_with_sentences(refs: List[dict]) -> Tuple[List[dict], List[dict]]:
    """The refs that have sentences, and those that have none. A ref
    without sentences gives no sample: the datasets skip it with a warning
    and ``check_refer_data.py`` notes it, neither fails. gRefCOCO's
    released val split has such grefs, and its authors advise skipping
    them (henghuiding/gRefCOCO issue 8)."""
    return ([ref for ref in refs if ref['sentences']],
            [ref for ref in refs if not ref['sentences']])


def refs_problems(refs: Any, path: str) -> List[str]:
    """What is wrong with the content of a refs file: not a list, the
    problems of each ref (:func:`ref_problems`) and ``ref_id`` s that
    appear more than once.

    Args:
        refs: What the file held.
        path (str): The file, named in the problems.

    Returns:
        list[str]: The problems.
    """
    if not isinstance(refs, list):
        return [f'{path}: expected a list of refs, got {type(refs).__name__}']
    problems = []
    for i, ref in enumerate(refs):
        problems += ref_problems(ref, path, i)
    counts = Counter(ref['ref_id'] for ref in refs
                     if isinstance(ref, dict) and _is_int(ref.get('ref_id')))
    problems += [f'{path}: ref_id={ref_id} appears {n} times'
                 for ref_id, n in counts.items() if n > 1]
    return problems


def describe_problems(problems: List[str], limit: int = 20) -> str:
    """One error message for ``problems``: each on its line, at most
    ``limit`` of them."""
    lines = list(problems[:limit])
    if len(problems) > limit:
        lines.append(f'... and {len(problems) - limit} more problem(s) '
                     '(tools/dataset_converters/check_refer_data.py lists them all)')
    return '\n'.join(lines)


def check_refs(refs: Any, path: str) -> List[dict]:
    """Return ``refs`` if they follow :func:`refs_problems`; else raise a
    ``ValueError`` naming ``path`` and every problem (up to 20).

    Args:
        refs: What the file held.
        path (str): The file, named in error messages.

    Returns:
        list[dict]: ``refs``.
    """
    problems = refs_problems(refs, path)
    if problems:
        raise ValueError(describe_problems(problems))
    return refs


class Instances(NamedTuple):
    """The checked content of a COCO ``instances.json``.

    Attributes:
        path (str): The file, named in error messages.
        images (dict): Image entries by id.
        anns (dict): Annotation entries by id.
        category_ids (frozenset): The ids of its ``categories``.
        broken_image_ids (frozenset): Ids of the image entries that break a
            rule (left out of ``images``).
    """
    path: str
    images: Dict[int, dict]
    anns: Dict[int, dict]
    category_ids: FrozenSet[int]
    broken_image_ids: FrozenSet[int] = frozenset()


def image_path_problem(file_name: str) -> Optional[str]:
    """Why an image's ``file_name`` leaves the image folder (None if it
    stays inside). Lexical: the path as written, normalised (``..``
    resolved), is absolute or climbs out. Symbolic links are not followed,
    so an image folder that is itself a link (``train2014 ->
    /datasets/coco/train2014``) is fine."""
    norm = osp.normpath(file_name)
    if osp.isabs(file_name) or norm == '..' or norm.startswith('..' + osp.sep):
        return f'file_name {file_name!r} leaves the image folder'
    return None


def _image_problems(img: Any, index: int, allow_outside_paths: bool) -> List[str]:
    if not isinstance(img, dict):
        return [f'image #{index} is a {type(img).__name__}, expected a dict']
    if not _is_int(img.get('id')):
        return [f'image #{index} has no integer "id" (got {img.get("id")!r})']
    name = f'image id={img["id"]}'
    problems = []
    for key in ('file_name', 'height', 'width'):
        if key not in img:
            problems.append(f'{name} has no "{key}"')
    if problems:
        return problems
    if not isinstance(img['file_name'], str) or not img['file_name']:
        problems.append(f'{name}: file_name must be a non-empty str, got '
                        f'{img["file_name"]!r}')
    elif not allow_outside_paths:
        outside = image_path_problem(img['file_name'])
        if outside:
            problems.append(f'{name}: {outside} (allow_outside_paths=True '
                            'accepts it)')
    problems += [f'{name}: {key} must be a positive integer, got {img[key]!r}'
                 for key in ('height', 'width')
                 if not _is_int(img[key]) or img[key] <= 0]
    return problems


def index_instances(coco: Any, path: str, allow_outside_paths: bool = False
                    ) -> Tuple[Optional[Instances], List[str]]:
    """Check a COCO instances file's content and index it.

    Every image has an integer ``id``, a ``file_name`` that stays inside the
    image folder (:func:`image_path_problem`, unless ``allow_outside_paths``)
    and positive integer ``height`` and ``width``; every annotation is a dict
    with an integer ``id``. Entries that break a rule are left out of the
    index and listed.

    Args:
        coco: What the file held.
        path (str): The file, named in the problems.
        allow_outside_paths (bool): Accept absolute ``file_name`` s and ones
            that climb out with ``..``.

    Returns:
        tuple: The :class:`Instances` (None when ``coco`` is no COCO file)
        and the problems, each naming ``path``.
    """
    if not isinstance(coco, dict) or not all(
            isinstance(coco.get(key), list) for key in ('images', 'annotations')):
        return None, [f'{path}: not a COCO instances file (it needs the lists '
                      '"images" and "annotations")']
    problems, images, anns, broken = [], {}, {}, set()
    for i, img in enumerate(coco['images']):
        found = _image_problems(img, i, allow_outside_paths)
        if not found:
            images[img['id']] = img
        elif isinstance(img, dict) and _is_int(img.get('id')):
            broken.add(img['id'])
        problems += found
    for i, ann in enumerate(coco['annotations']):
        if isinstance(ann, dict) and _is_int(ann.get('id')):
            anns[ann['id']] = ann
        else:
            problems.append(f'annotation #{i} is not a dict with an integer "id": '
                            f'{ann!r:.80}')
    categories = coco.get('categories') or []
    category_ids = frozenset(c['id'] for c in categories
                             if isinstance(c, dict) and _is_int(c.get('id')))
    return (Instances(path, images, anns, category_ids, frozenset(broken)),
            [f'{path}: {p}' for p in problems])


def read_refs(path: str, backend_args=None) -> Any:
    """The content of a refs file, unchecked (:func:`load_refs` checks it).

    Raises:
        FileNotFoundError: if the file does not exist.
        pickle.UnpicklingError: see :func:`load_refs`.
        ValueError: if JSON text is malformed.
    """
    from mmengine import fileio

    if not fileio.exists(path, backend_args=backend_args):
        raise FileNotFoundError(f'refs file not found: {path}')
    data = fileio.get(path, backend_args=backend_args)
    if str(path).lower().endswith('.json') or _looks_like_json(data):
        return _read_json(data, path)
    return _read_pickle(data, path)


def load_refs(path: str, backend_args=None) -> List[dict]:
    """Load and check a refs file (a list of ref dicts): a pickle or JSON.

    A file named ``*.json``, or whose text starts with ``[`` / ``{``, is
    read as JSON (gRefCOCO's ``grefs(unc).json``); any other file with
    :class:`RestrictedUnpickler` (the refer release's ``refs(unc).p``,
    gRefCOCO's ``grefs(unc).p``). Python 2 ``str`` values of a pickle are
    decoded as UTF-8; a string that is not UTF-8 is decoded as Latin-1,
    with a :class:`RefsEncodingWarning` naming its ref and field.

    Args:
        path (str): The file's path (local or any mmengine file backend).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[dict]: The refs.

    Raises:
        FileNotFoundError: if the file does not exist.
        pickle.UnpicklingError: if a pickle holds a non-builtin object or the
            file is neither JSON nor a pickle.
        ValueError: if JSON text is malformed, or the file is not a list of
            refs with the expected keys (:func:`check_refs`).
    """
    return check_refs(read_refs(path, backend_args), path)
