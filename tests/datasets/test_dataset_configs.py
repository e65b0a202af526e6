"""The dataset base configs load; the synthetic one builds and runs."""
import os
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CFG_DIR = osp.join(ROOT, 'configs', 'asda', '_base_', 'datasets')
CONFIGS = {
    'refcoco.py': ('refcoco/refs(unc).p', 'refcoco/instances.json'),
    'refcoco+.py': ('refcoco+/refs(unc).p', 'refcoco+/instances.json'),
    'refcocog_umd.py': ('refcocog/refs(umd).p', 'refcocog/instances.json'),
    'refcocog_google.py': ('refcocog/refs(google).p',
                           'refcocog/instances.json'),
    'synthetic.py': ('refcoco/refs(unc).p', 'refcoco/instances.json'),
}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_loads(name):
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    split_file, ann_file = CONFIGS[name]
    assert cfg.custom_imports == dict(imports=['asda'],
                                      allow_failed_imports=False)
    assert cfg.dataset_type == 'RefCOCODataset'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[key].dataset
        assert ds.type == 'RefCOCODataset'
        assert ds.split_file == split_file and ds.ann_file == ann_file
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.val_dataloader.dataset.test_mode is True
    assert cfg.val_evaluator.type == 'RISMetric'
    assert cfg.test_evaluator.type == 'RISMetric'
    scale = [t['scale'] for t in cfg.train_pipeline if t['type'] == 'ReferringResize']
    assert scale == [cfg.img_scale]
    if name != 'synthetic.py':
        assert cfg.img_scale == (416, 416)
        assert cfg.train_dataloader.batch_size == 14
    # Test masks stay at the original size: loaded after the resize.
    types = [t['type'] for t in cfg.test_pipeline]
    assert types.index('LoadReferringAnnotations') > types.index('ReferringResize')
    assert 'ReferringRandomFlip' not in types


def test_relative_base_with_plus_in_name(tmp_path):
    # configs/asda/<leaf>.py style: _base_ = ['../_base_/datasets/refcoco+.py']
    os.symlink(osp.dirname(CFG_DIR), tmp_path / '_base_')
    leaf = tmp_path / 'leaf' / 'asda_leaf.py'
    leaf.parent.mkdir()
    leaf.write_text("_base_ = ['../_base_/datasets/refcoco+.py']\n"
                    "train_dataloader = dict(batch_size=2)\n")
    cfg = Config.fromfile(str(leaf))
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.dataset.split_file == 'refcoco+/refs(unc).p'
    assert cfg.test_dataloader.dataset.split == 'val'


def test_synthetic_config_builds_and_runs(synthetic):
    from mmseg.registry import DATASETS

    import asda  # noqa: F401

    root, summary = synthetic
    cfg = Config.fromfile(osp.join(CFG_DIR, 'synthetic.py'))
    assert cfg.data_root == 'data/synthetic'
    assert cfg.data_prefix == dict(img_path='images/')
    for key, split in (('train_dataloader', 'train'),
                       ('test_dataloader', 'val')):
        ds_cfg = cfg[key].dataset
        ds_cfg.data_root = root
        ds = DATASETS.build(ds_cfg)
        assert len(ds) == summary['splits']['unc'][split]['sentences']
        for i in range(min(len(ds), 3)):
            out = ds[i]
            img, sample = out['inputs'], out['data_samples']
            assert img.shape[0] == 3
            assert max(img.shape[1:]) <= max(cfg.img_scale)
            assert min(img.shape[1:]) <= min(cfg.img_scale)
            info = ds.get_data_info(i)
            if split == 'train':
                assert sample.gt_sem_seg.shape == tuple(img.shape[1:])
            else:
                assert sample.gt_sem_seg.shape == (info['height'],
                                                   info['width'])
            assert isinstance(sample.text, str) and sample.text
