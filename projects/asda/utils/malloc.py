"""glibc's heap padding: fewer page faults in a training step on the CPU.

A PyTorch training step on the CPU frees and allocates the same tensors, a
few hundred MB, every step. glibc serves them from its heap, and when the
free memory at the top of the heap passes its trim threshold it hands that
memory back to the kernel; the next step grows the heap again, and every page
of it comes back through a page fault that zero-fills it. ``M_TOP_PAD`` is
the spare memory glibc keeps at the top of the heap when it grows and when it
trims: with a pad as large as a step's churn, the heap stops shrinking and
growing, and the step stops faulting its memory in.

Setting the pad (as setting any of glibc's thresholds) switches off its
adaptive mmap threshold (which otherwise rises, as large blocks are freed, up
to 32 MiB), leaving it wherever it stood. So the mmap threshold is set with
the pad, to that 32 MiB ceiling: blocks below it stay on the padded heap;
larger ones are mapped and unmapped on their own, as before.

On the demo's training step (``configs/asda/asda_tiny_synthetic.py``, batch 8,
2 threads) a pad of 256 MiB removes most of the process's minor page faults
and shortens the step; the weights it trains are identical bit for bit (the
allocator decides where a tensor lives, never what it holds). The cost is
memory that stays with the process after a peak, up to the pad. The setting
holds for the rest of the process (a later 0 does not undo it).

:func:`apply_env_cfg` applies a config's ``env_cfg.malloc_top_pad``: the
ASDA configs' runtime sets 256 MiB; :class:`asda.engine.ASDARunner`,
``tools/pretrain_tiny_clip.py`` and ``tools/analysis_tools/benchmark.py``
apply it. Forked data loader workers inherit the setting.
"""
import ctypes
import platform
from typing import Optional

__all__ = ['set_malloc_top_pad', 'apply_env_cfg', 'M_TOP_PAD',
           'M_MMAP_THRESHOLD', 'MMAP_THRESHOLD']

#: mallopt's parameter numbers (glibc's malloc.h)
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
#: the mmap threshold set with the pad: the ceiling of glibc's adaptive one on
#: 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX)
MMAP_THRESHOLD = 32 << 20


def _glibc() -> Optional[ctypes.CDLL]:
    """This process's C library (its loaded symbols) when it is glibc, else
    None."""
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return None
    return ctypes.CDLL(None)


def set_malloc_top_pad(num_bytes: int) -> bool:
    """Make glibc keep ``num_bytes`` spare at the top of its heap, with its
    mmap threshold at :data:`MMAP_THRESHOLD` (see the module), for this
    process and the processes it forks from now on.

    Args:
        num_bytes (int): the pad, in bytes (glibc's default is 128 KiB).

    Returns:
        bool: whether it was set: False where the C library is not glibc
        (macOS, Windows, musl), which keep their own allocator's behaviour.

    Raises:
        ValueError: ``num_bytes`` is not an integer in [0, 2**31).
    """
    if (isinstance(num_bytes, bool) or not isinstance(num_bytes, int)
            or not 0 <= num_bytes < 2**31):
        raise ValueError('malloc_top_pad must be a number of bytes in '
                         f'[0, 2**31) (mallopt takes an int), got {num_bytes!r}')
    libc = _glibc()
    if libc is None:
        return False
    return all(libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1
               for param, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                                    (M_TOP_PAD, num_bytes)))


def apply_env_cfg(env_cfg: Optional[dict]) -> Optional[int]:
    """Set the pad a config's ``env_cfg`` names (``malloc_top_pad``, bytes);
    none, None or 0 leaves glibc's settings as they are.

    Returns:
        int or None: the pad set (:func:`set_malloc_top_pad`), None if none
        was (none named, or not glibc).
    """
    pad = (env_cfg or {}).get('malloc_top_pad')
    return pad if pad and set_malloc_top_pad(pad) else None
