"""One run per work dir (asda.engine.work_dir_lock): a second holder is
refused naming the first's pid; the lock goes with its process; a lock
path that is a symbolic link or no regular file is refused."""
import fcntl
import os
import subprocess
import sys
import textwrap
import time

import pytest

import asda.engine.work_dir_lock as module
from asda.engine import LOCK_FILE, BadLockFileError, WorkDirInUseError, hold_work_dir

# a process holding WORK_DIR until killed (the module alone: no asda import)
HOLDER = textwrap.dedent(f'''
    import importlib.util, sys, time
    spec = importlib.util.spec_from_file_location('lock', {module.__file__!r})
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    with lock.hold_work_dir(sys.argv[1]):
        print('held', flush=True)
        time.sleep(600)
''')


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path / 'work'``."""
    proc = subprocess.Popen([sys.executable, '-c', HOLDER, str(tmp_path / 'work')],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'held'
    yield proc
    proc.kill()
    proc.wait()


def _free(work) -> bool:
    """Whether another open file description can lock the work dir."""
    fd = os.open(work / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_second_holder_is_refused_then_a_killed_holder_leaves_no_lock(
        holder, tmp_path):
    work = tmp_path / 'work'
    start = time.monotonic()
    with pytest.raises(WorkDirInUseError) as err:
        with hold_work_dir(str(work)):
            pass
    assert time.monotonic() - start < 1.0
    assert f'pid {holder.pid} ' in str(err.value) and str(work) in str(err.value)
    holder.kill()  # a crash: no clean-up runs
    holder.wait()
    with hold_work_dir(str(work)):
        assert f'pid {os.getpid()} ' in (work / LOCK_FILE).read_text()


def test_held_re_entrantly_and_released_on_exit(tmp_path):
    work = tmp_path / 'new' / 'work'  # created
    with hold_work_dir(str(work)):
        with hold_work_dir(str(work)):  # tools/train.py, then runner.train()
            assert not _free(work)
        assert not _free(work)
    assert _free(work)


def test_only_rank_zero_holds_it(holder, tmp_path, monkeypatch):
    monkeypatch.setenv('RANK', '1')
    with hold_work_dir(str(tmp_path / 'work')):
        pass  # rank 1 of the holder's own job: not refused


def test_a_forked_child_that_outlives_the_run_does_not_keep_the_lock(tmp_path):
    """A process forked while the run holds the work dir (a persistent
    dataloader worker, still alive until its runner is collected) shares
    the lock's descriptor: the run's end releases the lock for it too."""
    with hold_work_dir(str(tmp_path)):
        child = os.fork()
        if child == 0:  # the worker: outlives the run, then exits
            time.sleep(5)
            os._exit(0)
    try:
        with hold_work_dir(str(tmp_path)):  # the next run in this process
            pass
        probe = subprocess.run(
            [sys.executable, '-c', textwrap.dedent(f'''
                import fcntl, os
                fd = os.open({str(tmp_path / LOCK_FILE)!r}, os.O_RDWR)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)''')],
            capture_output=True, text=True, timeout=60)
        assert probe.returncode == 0, probe.stderr  # and another process's
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)


@pytest.mark.parametrize('target_exists', [True, False])
def test_a_planted_symbolic_link_is_not_followed(target_exists, tmp_path):
    """A link at the lock path made the run truncate (or create) its target."""
    work, victim = tmp_path / 'work', tmp_path / 'victim.txt'
    work.mkdir()
    if target_exists:
        victim.write_text('precious')
    (work / LOCK_FILE).symlink_to(victim)
    with pytest.raises(BadLockFileError,
                       match=f'lock file {work / LOCK_FILE} is a symbolic link '
                       f'\\(to {victim}\\); it is not followed'):
        with hold_work_dir(str(work)):
            pass
    if target_exists:
        assert victim.read_text() == 'precious'
    else:
        assert not victim.exists()


@pytest.mark.parametrize('kind', ['directory', 'fifo'])
def test_a_lock_path_that_is_no_regular_file_is_refused(kind, tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    if kind == 'directory':
        (work / LOCK_FILE).mkdir()
        problem = 'is a directory'
    else:
        os.mkfifo(work / LOCK_FILE)
        problem = r'is not a regular file \(mode p'
    with pytest.raises(BadLockFileError, match=f'lock file {work / LOCK_FILE} {problem}'):
        with hold_work_dir(str(work)):
            pass
