"""One training run per work dir.

Two runs writing into one work dir at once spoil each other: one log holds
both, one run's ``max_keep_ckpts`` deletes the other's checkpoints, and
:class:`asda.engine.SafeCheckpointHook` removes the temporary checkpoint
files it finds when training starts. :func:`hold_work_dir` takes an
exclusive ``fcntl.flock`` lock on ``WORK_DIR/.asda_run.lock`` and writes the
holder (pid, host, start time) into that file; a second run is refused at
once with an error naming the holder. The lock is released when the run
ends, and by the kernel when its process dies (a crash or a kill leaves no
stale lock: the file stays, unlocked).

The lock path is opened without following a symbolic link (``O_NOFOLLOW``)
and must be a regular file: a link planted there (to a file the run would
truncate), a folder or a FIFO is refused with :class:`BadLockFileError`.

``tools/train.py`` takes it before the runner is built (so before the log
file is written); :meth:`asda.engine.ASDARunner.train` takes it too, for
anything else that trains through the runner. In a distributed run only
rank 0 takes it.
"""
import contextlib
import fcntl
import os
import os.path as osp
import socket
import stat
import time
from typing import Dict, Iterator, List

__all__ = ['LOCK_FILE', 'BadLockFileError', 'WorkDirInUseError', 'hold_work_dir']

#: The lock file's name inside the work dir.
LOCK_FILE = '.asda_run.lock'

# work dirs this process holds (real path -> [fd, depth]): holding is
# re-entrant (tools/train.py, then the runner's train()), and a second
# flock on another descriptor of the same file would refuse this process
_HELD: Dict[str, List[int]] = {}


class WorkDirInUseError(RuntimeError):
    """Another live run holds the work dir."""


class BadLockFileError(RuntimeError):
    """The work dir's lock path is a symbolic link or not a regular file."""


def _open_lock_file(path: str) -> int:
    """Open (create) the lock file ``path`` for reading and writing, never
    through a symbolic link, and only if it is a regular file."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o644)
    except OSError:
        if osp.islink(path):
            raise BadLockFileError(
                f'lock file {path} is a symbolic link (to '
                f'{os.readlink(path)}); it is not followed. Remove it.') from None
        if osp.isdir(path):
            raise BadLockFileError(
                f'lock file {path} is a directory. Remove it.') from None
        raise  # e.g. a work dir this user may not write to
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise BadLockFileError(
            f'lock file {path} is not a regular file (mode {stat.filemode(mode)}). '
            'Remove it.')
    return fd


def _is_rank_zero() -> bool:
    """Whether this process is rank 0 of its job (or not distributed),
    before and after the process group is initialised."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if var in os.environ:
            return int(os.environ[var]) == 0
    return True


def _acquire(work_dir: str) -> int:
    """Lock ``WORK_DIR/LOCK_FILE`` (created with the folder if missing),
    write the holder into it and return its descriptor."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_FILE)
    fd = _open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors='replace').strip()
        os.close(fd)
        raise WorkDirInUseError(
            f'work dir {work_dir} is in use by another run '
            f'({holder or "starting, pid not yet written"}; lock file '
            f'{path}). Wait for it to end, or give this run another '
            f'--work-dir.') from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'pid {os.getpid()} on {socket.gethostname()} since '
              f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode(), 0)
    return fd


@contextlib.contextmanager
def hold_work_dir(work_dir: str) -> Iterator[None]:
    """Hold ``work_dir`` (created if missing) for the duration of the
    ``with`` block; see the module. Re-entrant within a process.

    Raises:
        WorkDirInUseError: Another process holds it; the message names the
            holder's pid, host and start time.
        BadLockFileError: The lock path is a symbolic link, or not a
            regular file.
    """
    if not _is_rank_zero():
        yield
        return
    key = osp.realpath(work_dir)
    if key not in _HELD:
        _HELD[key] = [_acquire(work_dir), 0]
    _HELD[key][1] += 1
    try:
        yield
    finally:
        _HELD[key][1] -= 1
        if _HELD[key][1] == 0:
            fd = _HELD.pop(key)[0]
            # unlocked explicitly: a process forked meanwhile (a persistent
            # dataloader worker) shares the descriptor, and closing ours
            # alone would leave the lock held until it exits
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
