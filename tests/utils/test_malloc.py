"""set_malloc_top_pad: with the pad, glibc keeps freed tensor memory instead
of handing it back to the kernel (and faulting it in again on the next
step)."""
import platform
import subprocess
import sys
import textwrap

import pytest

from asda.utils import malloc
from asda.utils.malloc import set_malloc_top_pad

GLIBC = platform.system() == 'Linux' and platform.libc_ver()[0] == 'glibc'
_VERSION = tuple(int(p) for p in platform.libc_ver()[1].split('.')[:2]) if GLIBC else ()

# With the pad set: a 4 MiB block, first, while the heap's top has no room
# for it (prints how many blocks it added to those mapped apart, mallinfo2's
# ``hblks``); then blocks of 64 KiB (below any mmap threshold, so on the heap,
# where PyTorch's CPU tensors of that size live) until the heap grows (prints
# by how many bytes: ``arena``, the bytes the main heap holds from the
# kernel). The module is loaded from its file, without the package (whose
# import would bring torch and mmseg).
_GROWTH = textwrap.dedent('''
    import ctypes, importlib.util, sys

    spec = importlib.util.spec_from_file_location('malloc', sys.argv[2])
    malloc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(malloc)

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks',
            'fsmblks', 'uordblks', 'fordblks', 'keepcost')]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    assert malloc.set_malloc_top_pad(int(sys.argv[1])) is True
    mapped = libc.mallinfo2().hblks
    blocks = [libc.malloc(4 << 20)]
    mapped = libc.mallinfo2().hblks - mapped
    start = libc.mallinfo2().arena
    while libc.mallinfo2().arena == start and len(blocks) < 40000:
        blocks.append(libc.malloc(64 * 1024))
    print(libc.mallinfo2().arena - start, mapped)
''')


@pytest.mark.skipif(not GLIBC or _VERSION < (2, 33),
                    reason='the pad is a glibc setting; mallinfo2 needs glibc 2.33')
def test_the_heap_grows_by_the_pad_and_holds_blocks_below_32_mib():
    pad = 256 << 20
    out = subprocess.run([sys.executable, '-c', _GROWTH, str(pad), malloc.__file__],
                         capture_output=True, text=True, check=True)
    grown, mapped = map(int, out.stdout.split()[-2:])
    # glibc's default pad (128 KiB) grows the heap by a block and 128 KiB;
    # with the pad it grows by at least the pad, and a trim keeps the pad:
    # the next step's tensors find the memory there, faulting nothing in
    assert grown >= pad
    # the pad alone would freeze the mmap threshold where it stood (128 KiB
    # in a fresh process) and map a 4 MiB block apart, faulted in each time
    assert mapped == 0


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(malloc.platform, 'libc_ver', lambda: ('', ''))
    assert set_malloc_top_pad(256 << 20) is False


@pytest.mark.parametrize('bad', [-1, 2**31, 1.5, '256', True, None])
def test_a_pad_mallopt_cannot_take_is_refused(bad):
    with pytest.raises(ValueError, match='malloc_top_pad'):
        set_malloc_top_pad(bad)


@pytest.mark.parametrize('env_cfg, calls', [
    (dict(malloc_top_pad=64 << 20), [64 << 20]),
    (dict(malloc_top_pad=0), []),
    (dict(malloc_top_pad=None), []),
    (dict(), []),
    (None, []),
])
def test_a_configs_env_cfg_names_the_pad(heap_pads, env_cfg, calls):
    assert malloc.apply_env_cfg(env_cfg) == (calls[0] if calls else None)
    assert heap_pads == calls


def test_no_pad_is_reported_where_it_could_not_be_set(monkeypatch):
    monkeypatch.setattr(malloc, 'set_malloc_top_pad', lambda n: False)  # not glibc
    assert malloc.apply_env_cfg(dict(malloc_top_pad=64 << 20)) is None
