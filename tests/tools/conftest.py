"""Fixtures for the tool tests: a small synthetic dataset."""
import pytest
from tool_helpers import load_tool


@pytest.fixture(scope='session')
def tool_dataset(tmp_path_factory):
    """A 16-image synthetic dataset (train 12, val/testA/testB 1+ each)."""
    root = tmp_path_factory.mktemp('tool_data')
    generator = load_tool('tools/dataset_converters/make_synthetic_refcoco.py',
                          'make_synthetic_refcoco')
    generator.make_synthetic_refcoco(str(root), num_images=16, seed=5)
    return str(root)
