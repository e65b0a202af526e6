"""Session fixtures shared by the test folders."""
import pytest

from asda.datasets.synthetic import make_synthetic_refcoco


@pytest.fixture(scope='session')
def small_dataset(tmp_path_factory):
    """A 16-image synthetic dataset (train 12, val / testA / testB 1+ each);
    read-only: copy it before corrupting it."""
    root = tmp_path_factory.mktemp('small_dataset')
    make_synthetic_refcoco(str(root), num_images=16, seed=5)
    return str(root)
