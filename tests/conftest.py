"""Fixtures shared by the test folders; the ``gpu`` marker's rule;
the garbage collector kept to each test's own objects."""
import gc
import os

import pytest
import torch
from mmengine.registry import DefaultScope

from asda.synthetic.refer import make_synthetic_refcoco


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """Each test starts with the registry scope the one before it found:
    mmengine keeps every ``DefaultScope`` made (by a Runner or
    ``init_default_scope``) in a class-level dict, and the latest is the
    current one, so a test that runs an mmengine-scoped Runner would
    otherwise make the next test's ``METRICS.build`` look in mmengine's
    registry instead of mmseg's."""
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


@pytest.fixture
def heap_pads(monkeypatch):
    """The pads asked of glibc (asda.utils.malloc.set_malloc_top_pad), in
    order, each reported as set, none set in this process."""
    from asda.utils import malloc
    pads = []
    monkeypatch.setattr(malloc, 'set_malloc_top_pad', lambda n: pads.append(n) or True)
    return pads


@pytest.fixture(scope='session')
def small_dataset(tmp_path_factory):
    """A 16-image synthetic dataset (train 12, val / testA / testB 1+ each);
    read-only: copy it before corrupting it."""
    root = tmp_path_factory.mktemp('small_dataset')
    make_synthetic_refcoco(str(root), num_images=16, seed=5)
    return str(root)


def pytest_runtest_setup(item):
    """``gpu`` tests need CUDA: skipped without it (the reason is shown),
    or failed when ``ASDA_REQUIRE_CUDA=1`` so that a GPU run cannot pass by
    skipping them."""
    if item.get_closest_marker('gpu') is None or torch.cuda.is_available():
        return
    reason = 'gpu test: torch.cuda.is_available() is False'
    if os.environ.get('ASDA_REQUIRE_CUDA') == '1':
        pytest.fail(f'{reason}, and ASDA_REQUIRE_CUDA=1 requires CUDA',
                    pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Once the test's fixtures are torn down, collect its garbage, then
    freeze what is left (imports, wider fixtures, caches) out of the
    collector's sight: a full collection walks every tracked object of the
    process, and mmengine runs one at every dataset it builds
    (``BaseDataset._serialize_data``), 0.16 s a dataset after a few hundred
    tests. Frozen objects are still freed when their last reference goes;
    only a reference cycle among them would stay."""
    yield
    gc.collect()
    gc.freeze()
