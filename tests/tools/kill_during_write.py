"""Run ``tools/train.py`` and die (SIGKILL) in the middle of a file write.

``python kill_during_write.py PATTERN N -- TRAIN_ARGS...``: the N-th call of
mmengine's ``LocalBackend.put`` (the call every checkpoint byte goes
through) whose target path matches the regular expression PATTERN writes
half of its bytes, then kills the process, as a power cut or an OOM killer
would. Also registers ``EvalCountMetric`` (test-only): a metric that grows
at every evaluation, so that ``save_best`` replaces the best checkpoint at
every validation.
"""
import os
import re
import runpy
import signal
import sys

from mmengine.evaluator import BaseMetric
from mmengine.fileio import LocalBackend
from mmseg.registry import METRICS


@METRICS.register_module(force=True)  # also imported by custom_imports
class EvalCountMetric(BaseMetric):
    """``evals``: how many evaluations this process has run (1, 2, ...)."""
    default_prefix = ''
    calls = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        EvalCountMetric.calls += 1
        return dict(evals=float(EvalCountMetric.calls))


def install(pattern: str, nth: int) -> None:
    original = LocalBackend.put
    seen = [0]

    def put(self, obj, filepath):
        if re.search(pattern, str(filepath)):
            seen[0] += 1
            if seen[0] == nth:
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                os.kill(os.getpid(), signal.SIGKILL)
        return original(self, obj, filepath)

    LocalBackend.put = put


if __name__ == '__main__' and len(sys.argv) > 3 and sys.argv[3] == '--':
    install(sys.argv[1], int(sys.argv[2]))
    train = os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'train.py')
    sys.argv = [train] + sys.argv[4:]
    runpy.run_path(train, run_name='__main__')
