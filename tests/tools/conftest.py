"""Fixtures for the tool tests."""
import pytest
from asda_test_utils import load_tool


@pytest.fixture(scope='session')
def tool_dataset(small_dataset):
    return small_dataset


@pytest.fixture(scope='module')
def train_tool():
    """tools/train.py imported as a module (its ``main`` runs in-process)."""
    return load_tool('tools/train.py', 'asda_train_tool')


@pytest.fixture(scope='module')
def test_tool():
    """tools/test.py imported as a module (its ``main`` runs in-process)."""
    return load_tool('tools/test.py', 'asda_test_tool')
