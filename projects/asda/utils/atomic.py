"""Crash-safe file writes: a temporary file in the same folder, flushed and
fsynced, then renamed over the target (``os.replace`` is atomic on POSIX).

A reader therefore sees the old file or the new one, never half of one, even
when the writer is killed (SIGKILL, power loss after the fsync). The bytes are
written through mmengine's ``LocalBackend.put``, the call mmengine itself
uses for checkpoints, so one function writes every byte of a checkpoint.
"""
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator, Union

__all__ = ['atomic_output', 'atomic_write', 'commit_file', 'temporary_name']


def temporary_name(path: str) -> str:
    """The hidden temporary name ``path`` is written under before its rename:
    ``<dir>/.<name>.tmp-<pid>``."""
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}.tmp-{os.getpid()}')


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
