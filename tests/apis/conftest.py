"""Fixtures for the inference API tests: a small synthetic dataset, a
config on it (the demo config, deterministic, no workers) and a checkpoint
of the random-init tiny model."""
import pytest
import torch
from asda_test_utils import write_config


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
    from asda.apis import init_model
    torch.manual_seed(0)
    model = init_model(ris_config)
    path = tmp_path_factory.mktemp('ris_ckpt') / 'random_init.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


@pytest.fixture(scope='session')
def inferencer(ris_config, ris_checkpoint):
    from asda.apis import RISInferencer
    return RISInferencer(ris_config, ris_checkpoint)
