"""Test-only driver: several tool runs in one child process, one after the
other, so that a test pays for one start (importing torch, mmseg and asda)
instead of one per run::

    python tests/run_tools.py '[["tools/train.py", "CFG", "--work-dir", "W"], ...]'

Each run is one of:

* ``[SCRIPT, ARG...]``: ``main(argv)`` of the script (a path under the
  repository root). A run that raises ends the process with a non-zero exit
  and the traceback, as the script alone would.
* ``{"kill_in_write": [PATTERN, N], "run": [SCRIPT, ARG...]}``: the same in a
  forked process that dies by SIGKILL in the N-th checkpoint write whose
  path matches PATTERN (tests/tools/kill_during_write.py, which must be
  importable); its end is announced by ``=== run N ended: CODE`` (``-9``:
  killed, as ``Popen.returncode`` says it). Killed runs come before any
  other tool run: a child forked after torch has computed in the parent may
  hang in its thread pool. One at a time: two trainings at once on two cores
  take longer than one after the other.
* ``{"copy": [SRC, DST]}``: copy the folder SRC to DST (what the runs before
  left, for a test to read after later runs have changed SRC).

Each run is announced on stdout by a ``=== run N: ...`` line so that a test
can tell their output apart.
"""
import json
import os
import shutil
import sys
import traceback

from asda_test_utils import load_tool

_TOOLS = {}  # script path -> the script imported as a module


def _tool(script: str):
    """The script imported once (as a module) for all its runs."""
    if script not in _TOOLS:
        _TOOLS[script] = load_tool(script, f'asda_run_tools_{len(_TOOLS)}')
    return _TOOLS[script]


def _killed_run(pattern: str, nth: int, script: str, argv) -> int:
    """The killed run in a forked child (the script imported before, by the
    parent, so the child starts at once; the parent has run no torch
    computation, so the child's thread pools start fresh); returns its exit
    code."""
    tool = _tool(script)
    sys.stdout.flush()
    sys.stderr.flush()  # or the child would print the parent's buffers again
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    code = 1
    try:
        from kill_during_write import install
        install(pattern, nth)
        tool.main(argv)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: B902 - reported, then the child ends
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(runs) -> None:
    computed = False  # whether a tool has run in this process
    for number, run in enumerate(runs):
        if isinstance(run, dict) and 'kill_in_write' in run:
            if computed:
                sys.exit(f'run {number}: a killed run must come before the other tool runs')
            print(f'=== run {number}: {" ".join(run["run"])} (killed in a write)', flush=True)
            code = _killed_run(*run['kill_in_write'], run['run'][0], run['run'][1:])
            print(f'=== run {number} ended: {code}', flush=True)
            continue
        if isinstance(run, dict):
            print(f'=== run {number}: copy {" ".join(run["copy"])}', flush=True)
            shutil.copytree(*run['copy'], symlinks=True)
            continue
        script, *argv = run
        print(f'=== run {number}: {script} {" ".join(argv)}', flush=True)
        computed = True
        _tool(script).main(argv)
        sys.stdout.flush()


if __name__ == '__main__':
    main(json.loads(sys.argv[1]))
