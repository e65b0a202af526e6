"""Session fixtures shared by the test folders; the ``gpu`` marker's rule."""
import os

import pytest
import torch

from asda.synthetic.refer import make_synthetic_refcoco


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
