"""Fixtures for the inference API tests: a small synthetic dataset, a
config on it (the demo config, deterministic, no workers) and a checkpoint
of the random-init tiny model."""
import pytest
from asda_test_utils import save_random_checkpoint, write_config


@pytest.fixture(scope='session')
def ris_dataset(small_dataset):
    return small_dataset


@pytest.fixture(scope='session')
def ris_config(ris_dataset, tmp_path_factory):
    return write_config(
        tmp_path_factory.mktemp('ris_cfg') / 'cfg.py', ris_dataset)


@pytest.fixture(scope='session')
def ris_checkpoint(ris_config, tmp_path_factory):
    """A checkpoint of the random-init model (mmengine layout)."""
    path = tmp_path_factory.mktemp('ris_ckpt') / 'random_init.pth'
    save_random_checkpoint(path, ris_config, seed=0)
    return str(path)


@pytest.fixture(scope='session')
def inferencer(ris_config, ris_checkpoint):
    from asda.apis import RISInferencer
    return RISInferencer(ris_config, ris_checkpoint)
