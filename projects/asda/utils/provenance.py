"""What a recorded result says about where it came from: the machine it ran
on (:func:`machine_info`) and paths that hold on any checkout
(:func:`portable_paths`).

A committed result file (a checkpoint's provenance, a figure the docs
quote) names the machine by its CPU, core count and software, never by a
host name or a folder of that machine.
"""
import os
import os.path as osp
import platform
import re
from typing import Any, Callable

import torch

__all__ = ['cpu_name', 'machine_info', 'map_leaves', 'portable_paths']


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``; else what ``platform``
    says)."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str = 'cpu') -> dict:
    """The machine a run used: CPU model and cores, the threads torch uses,
    the device (and its GPU), the platform and torch's version."""
    info = dict(cpu=cpu_name(), cpu_count=os.cpu_count(),
                torch_threads=torch.get_num_threads(), device=device,
                platform=platform.platform(), torch=torch.__version__)
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


#: An absolute path within a text: '/' after a space, a quote or the start
#: (not within a word, a relative path or a URL), up to a space or a quote.
_ABSOLUTE = re.compile(r"(?<![\w.:/~-])/[^\s'\",;)\]]+")


def portable_paths(obj: Any, root: str) -> Any:
    """``obj`` (nested dicts, lists, strings) with every absolute path
    made portable: relative to ``root`` when it lies under it, else its
    file name alone. Paths within longer strings (a command line, a
    config's text) are found and replaced the same way.
    """
    root = osp.normpath(osp.abspath(root))

    def portable(leaf: Any) -> Any:
        if not isinstance(leaf, str):
            return leaf
        return _ABSOLUTE.sub(lambda m: _portable(m.group(0), root), leaf)

    return map_leaves(obj, portable)


def map_leaves(obj: Any, fn: Callable[[Any], Any]) -> Any:
    """``obj`` (nested dicts, lists and tuples, as JSON holds them) with
    ``fn`` applied to every other value; tuples become lists."""
    if isinstance(obj, dict):
        return {k: map_leaves(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [map_leaves(v, fn) for v in obj]
    return fn(obj)


def _portable(word: str, root: str) -> str:
    path = osp.normpath(word)
    if path == root or path.startswith(root + os.sep):
        return osp.relpath(path, root)
    return osp.basename(path)
