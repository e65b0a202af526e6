"""Crash-safe file writes: a temporary file in the same folder, flushed and
fsynced, then renamed over the target (``os.replace`` is atomic on POSIX).
A folder is written the same way (:func:`atomic_directory`): into a hidden
folder beside it, renamed into place when it is complete.

A reader therefore sees the old file or the new one, never half of one, even
when the writer is killed (SIGKILL, power loss after the fsync). The bytes are
written through mmengine's ``LocalBackend.put``, the call mmengine itself
uses for checkpoints, so one function writes every byte of a checkpoint.

Every JSON result (metrics, provenance, benchmarks, per-expression records)
is written by :func:`write_json`: strict JSON that any parser reads, so a
NaN or an infinity (a share of nothing, such as N-acc of target expressions
only) is written as ``null``, JSON's "no value", not as the bare ``NaN``
Python's ``json`` writes and JavaScript, jq and strict parsers refuse.
"""
import json
import math
import os
import os.path as osp
import re
import shutil
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Union

__all__ = ['atomic_directory', 'atomic_output', 'atomic_write', 'commit_file',
           'finite_or_none', 'temporary_name', 'write_json']


def temporary_name(path: str) -> str:
    """The hidden temporary name ``path`` is written under before its rename:
    ``<dir>/.<name>.tmp-<pid>``."""
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}.tmp-{os.getpid()}')


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _clear_killed_writers(path: str) -> None:
    """Tidy what writers of the folder ``path`` that were killed (SIGKILL,
    power loss) left beside it, as :func:`atomic_directory` names it: each
    ``.<name>.tmp-<pid>`` of a process that no longer runs is removed; a
    ``...-old`` (the previous ``path``, moved aside just before the final
    rename) is removed when ``path`` exists, and otherwise renamed back to
    ``path``. A folder of a live process is left alone."""
    folder, name = osp.split(path)
    pattern = re.compile(rf'\.{re.escape(name)}\.tmp-(\d+)(-old)?')
    for entry in sorted(os.listdir(folder)) if osp.isdir(folder) else []:
        m = pattern.fullmatch(entry)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        stale = osp.join(folder, entry)
        if m.group(2) and not osp.lexists(path):
            os.replace(stale, path)  # the killed writer had moved it aside
        elif osp.isdir(stale) and not osp.islink(stale):
            shutil.rmtree(stale)
        else:
            os.unlink(stale)


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp: str, path: str) -> None:
    """fsync ``tmp``, rename it to ``path`` and fsync the folder."""
    with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(osp.dirname(osp.abspath(path)))


@contextmanager
def atomic_output(path: str, commit: bool = True) -> Iterator[str]:
    """Yield the temporary name to write ``path`` under; when the block
    ends, commit it (:func:`commit_file`) if ``commit``. On any error the
    temporary file is removed and ``path`` is untouched; an ``OSError``
    that names no file (a write the disk refuses: no space left, file too
    large) is raised again naming ``path``, with its errno.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        if commit:
            commit_file(tmp, path)
    except BaseException as err:
        if osp.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename is None and err.errno:
            raise OSError(err.errno, err.strerror or str(err), path) from err
        raise


def atomic_write(path: str, data: Union[bytes, str]) -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically."""
    from mmengine.fileio import LocalBackend

    if isinstance(data, str):
        data = data.encode('utf-8')
    with atomic_output(path) as tmp:
        LocalBackend().put(data, tmp)


def finite_or_none(value: Any) -> Any:
    """A non-finite float (NaN, +-inf) as None, JSON's "no value"; any other
    value as it is."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_json(path: str, data: Any, indent: Optional[int] = 1,
               default: Optional[Callable] = None, newline: bool = False) -> None:
    """Write ``data`` to ``path`` as strict JSON, atomically
    (:func:`atomic_write`); NaN and infinities become ``null``
    (:func:`finite_or_none`, see the module). ``default`` converts what
    ``json`` cannot (as :func:`json.dumps`'s); it runs first, so its numbers
    are checked too."""
    from .provenance import map_leaves

    if default is not None:  # convert first, so that converted numbers are checked
        data = json.loads(json.dumps(data, default=default))
    text = json.dumps(map_leaves(data, finite_or_none), indent=indent, allow_nan=False)
    atomic_write(path, text + '\n' if newline else text)


@contextmanager
def atomic_directory(path: str, overwrite: bool = False) -> Iterator[str]:
    """Yield a new empty folder to fill in place of the folder ``path``; when
    the block ends it is renamed to ``path``. On any error (or interrupt)
    the folder is removed and ``path`` is untouched: nothing half-written is
    left.

    The folder is :func:`temporary_name` of ``path`` (beside it, so the
    rename stays on one file system). With ``overwrite``, an existing
    ``path`` is moved aside, replaced, then removed. What a killed writer
    of ``path`` left beside it is tidied first (an interrupted replacement
    is undone).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False (raised
            before the block runs).
    """
    path = osp.abspath(path)
    _clear_killed_writers(path)
    if osp.lexists(path) and not overwrite:
        raise FileExistsError(f'{path} exists; choose another output folder or '
                              'overwrite it')
    tmp = temporary_name(path)
    if osp.lexists(tmp):  # left by a killed process that had this pid
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    old = None
    try:
        yield tmp
        if osp.lexists(path):
            old = temporary_name(path) + '-old'
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(osp.dirname(path))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not osp.lexists(path):
            os.replace(old, path)  # the rename failed: put the old one back
        raise
    if old is not None:
        if osp.isdir(old) and not osp.islink(old):
            shutil.rmtree(old)
        else:
            os.unlink(old)
