"""Shared fixtures: a tiny synthetic referring dataset (generated once)."""
import shutil

import pytest

from asda.synthetic.refer import make_synthetic_refcoco

NUM_IMAGES = 12  # train 9, val / testA / testB 1 each


@pytest.fixture(scope='session')
def synthetic(tmp_path_factory):
    """(data_root, summary) of a 12-image dataset; treat as read-only."""
    root = tmp_path_factory.mktemp('synthetic')
    summary = make_synthetic_refcoco(
        str(root), num_images=NUM_IMAGES, seed=3)
    return str(root), summary


@pytest.fixture
def synthetic_copy(synthetic, tmp_path):
    """A private copy of the synthetic dataset that a test may corrupt."""
    dst = tmp_path / 'data'
    shutil.copytree(synthetic[0], dst)
    return str(dst)


def dataset_cfg(data_root, **kwargs):
    """RefCOCODataset arguments for the synthetic layout."""
    cfg = dict(
        type='RefCOCODataset',
        data_root=data_root,
        ann_file='refcoco/instances.json',
        split_file='refcoco/refs(unc).p',
        data_prefix=dict(img_path='images/'),
        split='train')
    cfg.update(kwargs)
    return cfg


@pytest.fixture(scope='session')
def build_dataset():
    """``build_dataset(data_root, **overrides)`` -> RefCOCODataset."""
    from mmseg.registry import DATASETS

    import asda  # noqa: F401

    def build(data_root, **kwargs):
        return DATASETS.build(dataset_cfg(data_root, **kwargs))

    return build
