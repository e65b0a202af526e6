"""Progress of the long tools (the data check, the generators, the ONNX
check, the probes): mmengine's :class:`~mmengine.utils.ProgressBar` on
stderr when stderr is a terminal, nothing otherwise.

A bar redraws its line with carriage returns, which in a log file or a
captured stream (a Slurm job, a CI log, a test) only piles up noise; the
results the tools print go to stdout either way.

    for item in track(items, 'checking images'):
        ...

    bar = progress_bar(total, 'writing images')
    bar.update()    # once per step
    bar.close()     # ends the line
"""
import sys
import time
from typing import IO, Iterable, Iterator, Optional, TypeVar

__all__ = ['Progress', 'progress_bar', 'track']

T = TypeVar('T')


class Progress:
    """A progress bar of ``total`` steps, drawn on ``file`` only when it is a
    terminal (``file.isatty()``).

    Args:
        total (int): Number of steps (0: unknown, a count is shown).
        what (str): What is being done, printed before the bar.
        file (file, optional): Where to draw; default: ``sys.stderr`` at
            the time the bar is made.
    """

    #: Seconds between two redraws of the bar.
    INTERVAL = 0.1

    def __init__(self, total: int, what: str, file: Optional[IO] = None):
        self.file = sys.stderr if file is None else file
        isatty = getattr(self.file, 'isatty', None)
        self.shown = bool(isatty and isatty())
        self.total = total
        self.done = 0
        self._drawn = 0  # steps the bar shows
        self._last = 0.0
        self._bar = None
        if self.shown:
            from mmengine.utils import ProgressBar
            self.file.write(f'{what}\n')
            self._bar = ProgressBar(total, file=self.file)
            self._last = time.monotonic()

    def update(self, steps: int = 1) -> None:
        """``steps`` more steps done. The bar is redrawn at most every
        :attr:`INTERVAL` seconds, and at the last step."""
        self.done += steps
        if self._bar is None or self.done == self._drawn:
            return
        now = time.monotonic()
        if now - self._last >= self.INTERVAL or self.done == self.total:
            self._bar.update(self.done - self._drawn)
            self._drawn, self._last = self.done, now

    def close(self) -> None:
        """Draw the last count and end the bar's line (once)."""
        if self._bar is not None:
            if self.done > self._drawn:
                self._bar.update(self.done - self._drawn)
            self.file.write('\n')
            self.file.flush()
            self._bar = None


def progress_bar(total: int, what: str, file: Optional[IO] = None) -> Progress:
    """A :class:`Progress` of ``total`` steps."""
    return Progress(total, what, file)


def track(items: Iterable[T], what: str, total: Optional[int] = None,
          file: Optional[IO] = None) -> Iterator[T]:
    """Yield ``items``, one bar step each (``total``: their number, default
    ``len(items)``); the bar's line ends when they are exhausted."""
    if total is None:
        total = len(items) if hasattr(items, '__len__') else 0
    bar = Progress(total, what, file)
    try:
        for item in items:
            yield item
            bar.update()
    finally:
        bar.close()
