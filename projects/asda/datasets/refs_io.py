"""Safe reading of the refer release's ``refs(<split_by>).p`` pickles.

The pickles come from the internet. :class:`RestrictedUnpickler` admits only
builtin containers and scalars; any other global (``os.system``,
``copy_reg._reconstructor``, a class, ...) is refused before it can be
called, with an error naming the file.
"""
import io
import pickle
from typing import Any, List

__all__ = ['RestrictedUnpickler', 'load_refs']

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


def load_refs(path: str, backend_args=None) -> List[dict]:
    """Load and check a refs pickle (a list of ref dicts).

    Python 2 ``str`` values are decoded as UTF-8, falling back to latin-1.

    Args:
        path (str): The pickle's path (local or any mmengine file backend).
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[dict]: The refs.

    Raises:
        FileNotFoundError: if the file does not exist.
        pickle.UnpicklingError: if it holds a non-builtin object or is not a
            pickle.
        ValueError: if it is not a list of refs with the expected keys.
    """
    from mmengine import fileio

    if not fileio.exists(path, backend_args=backend_args):
        raise FileNotFoundError(f'refs pickle not found: {path}')
    data = fileio.get(path, backend_args=backend_args)
    try:
        try:
            refs = _unpickle(data, path, 'utf-8')
        except UnicodeDecodeError:
            refs = _unpickle(data, path, 'latin1')
    except pickle.UnpicklingError:
        raise
    except Exception as err:  # truncated file, not a pickle, ...
        raise pickle.UnpicklingError(
            f'{path}: cannot read the refs pickle: {err!r}') from err
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
        for j, sent in enumerate(ref['sentences']):
            if not isinstance(sent, dict) or 'sent' not in sent or \
                    'sent_id' not in sent:
                raise ValueError(
                    f'{path}: sentence #{j} of ref_id={ref["ref_id"]} needs '
                    f'"sent" and "sent_id", got {sent!r}')
    return refs
