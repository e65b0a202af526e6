"""Fixtures for the tool tests."""
import pytest


@pytest.fixture(scope='session')
def tool_dataset(small_dataset):
    return small_dataset
