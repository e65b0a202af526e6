"""Safe reading of the refer release's ``refs(<split_by>).p`` pickles and of
gRefCOCO's ``grefs(unc).json`` / ``grefs(unc).p``.

The pickles come from the internet. :class:`RestrictedUnpickler` admits only
builtin containers and scalars; any other global (``os.system``,
``copy_reg._reconstructor``, a class, ...) is refused before it can be
called, with an error naming the file.
"""
import io
import json
import pickle
from typing import Any, List

__all__ = ['RestrictedUnpickler', 'check_refs', 'load_refs']

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


def _unpickle(data: bytes, filename: str, encoding: str) -> Any:
    return RestrictedUnpickler(
        io.BytesIO(data), filename=filename, encoding=encoding).load()


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
            return _unpickle(data, path, 'utf-8')
        except UnicodeDecodeError:
            return _unpickle(data, path, 'latin1')
    except pickle.UnpicklingError:
        raise
    except Exception as err:  # truncated file, not a pickle, ...
        raise pickle.UnpicklingError(
            f'{path}: cannot read the refs pickle: {err!r}') from err


def check_refs(refs: Any, path: str) -> List[dict]:
    """Raise ``ValueError`` unless ``refs`` is a list of ref dicts.

    Every ref needs the keys of :data:`REF_KEYS`; every sentence ``sent``
    and ``sent_id``. Refs and grefs (gRefCOCO) share this rule.

    Args:
        refs: What the file held.
        path (str): The file, named in error messages.

    Returns:
        list[dict]: ``refs``.
    """
    if not isinstance(refs, list):
        raise ValueError(f'{path}: expected a list of refs, got '
                         f'{type(refs).__name__}')
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict):
            raise ValueError(f'{path}: ref #{i} is a {type(ref).__name__}, '
                             'expected a dict')
        missing = [k for k in REF_KEYS if k not in ref]
        if missing:
            raise ValueError(f'{path}: ref #{i} (ref_id={ref.get("ref_id")}) '
                             f'lacks the keys {missing}')
        if not isinstance(ref['sentences'], (list, tuple)):
            raise ValueError(
                f'{path}: "sentences" of ref_id={ref["ref_id"]} is a '
                f'{type(ref["sentences"]).__name__}, expected a list')
        for j, sent in enumerate(ref['sentences']):
            if not isinstance(sent, dict) or 'sent' not in sent or \
                    'sent_id' not in sent:
                raise ValueError(
                    f'{path}: sentence #{j} of ref_id={ref["ref_id"]} needs '
                    f'"sent" and "sent_id", got {sent!r}')
    return refs


def load_refs(path: str, backend_args=None) -> List[dict]:
    """Load and check a refs file (a list of ref dicts): a pickle or JSON.

    A file named ``*.json``, or whose text starts with ``[`` / ``{``, is
    read as JSON (gRefCOCO's ``grefs(unc).json``); any other file with
    :class:`RestrictedUnpickler` (the refer release's ``refs(unc).p``,
    gRefCOCO's ``grefs(unc).p``). Python 2 ``str`` values of a pickle are
    decoded as UTF-8, falling back to latin-1.

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
    from mmengine import fileio

    if not fileio.exists(path, backend_args=backend_args):
        raise FileNotFoundError(f'refs file not found: {path}')
    data = fileio.get(path, backend_args=backend_args)
    if str(path).lower().endswith('.json') or _looks_like_json(data):
        refs = _read_json(data, path)
    else:
        refs = _read_pickle(data, path)
    return check_refs(refs, path)
