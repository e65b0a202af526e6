"""Test-only: die (SIGKILL) in the middle of a checkpoint write, and a metric
that grows at every evaluation.

:func:`install` makes the N-th call of mmengine's ``LocalBackend.put`` (the
call every checkpoint byte goes through) whose target path matches a regular
expression write half of its bytes, then kill the process, as a power cut or
an OOM killer would (tests/run_tools.py's killed runs).
``EvalCountMetric`` (imported by the configs' ``custom_imports``) grows at
every evaluation, so that ``save_best`` replaces the best checkpoint at
every validation.
"""
import os
import re
import signal

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
    """Kill this process in the ``nth`` write whose path matches
    ``pattern``, half of its bytes written."""
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
