"""Test-only driver: several tool runs in one child process, one after the
other, so that a test pays for one start (importing torch, mmseg and asda)
instead of one per run::

    python tests/run_tools.py '[["tools/train.py", "CFG", "--work-dir", "W"], ...]'

Each run is ``main(argv)`` of the script (a path under the repository root),
announced on stdout by a ``=== run N: ...`` line so that a test can tell
their output apart. A run that raises ends the process with a non-zero exit
and the traceback, as the script alone would.
"""
import json
import sys

from asda_test_utils import load_tool


def main(runs) -> None:
    for number, (script, *argv) in enumerate(runs):
        print(f'=== run {number}: {script} {" ".join(argv)}', flush=True)
        load_tool(script, f'asda_run_tools_{number}').main(argv)
        sys.stdout.flush()


if __name__ == '__main__':
    main(json.loads(sys.argv[1]))
