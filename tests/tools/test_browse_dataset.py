"""tools/analysis_tools/browse_dataset.py on the synthetic dataset."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
from asda_test_utils import DEMO_CONFIG, load_tool

SPLITS = ['train', 'val', 'testA', 'testB']


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/analysis_tools/browse_dataset.py',
                     'asda_browse_dataset')


def test_writes_n_images_per_split(tool, tool_dataset, tmp_path):
    out = tmp_path / 'browse'
    records = tool.main([DEMO_CONFIG, '--data-root', tool_dataset, '--split',
                         *SPLITS, '--num', '2', '--out-dir', str(out),
                         '--pipeline', 'test'])
    for split in SPLITS:
        files = sorted(glob.glob(str(out / split / '*.png')))
        assert len(files) == 2, split
    assert len(records) == 8
    for r in records:
        img = cv2.imread(r['file'])
        h, w = r['input_shape']
        assert max(h, w) == 224  # the packed input: keep-ratio resize to 224
        assert img.shape[1] == w and img.shape[0] > h  # expression banner above
    assert not any(r['flip'] for r in records)


def test_train_pipeline_shows_flip_and_swapped_words(tool, tool_dataset, tmp_path):
    out = tmp_path / 'browse'
    # every sample flipped: the expression the model reads has left/right swapped
    records = tool.main([
        DEMO_CONFIG, '--data-root', tool_dataset, '--split', 'train',
        '--num', '40', '--out-dir', str(out), '--pipeline', 'train',
        '--cfg-options', 'train_dataloader.dataset.pipeline.2.prob=1.0'])
    assert records and all(r['flip'] for r in records)
    lr = [r for r in records if ' left' in r['original_text']
          or ' right' in r['original_text']]
    assert lr, 'the synthetic train split has left/right expressions'
    for r in lr:
        assert r['text'] != r['original_text']
        assert ('left' in r['original_text']) == ('right' in r['text'])
    assert len(glob.glob(str(out / 'train' / '*.png'))) == len(records)


def test_flipped_mask_mirrors_the_unflipped_one(tool, tool_dataset):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(DEMO_CONFIG)
    init_default_scope('mmseg')
    for d in (cfg.train_dataloader.dataset, cfg.test_dataloader.dataset):
        d.data_root = tool_dataset
    # flip always; no photometric distortion and no resize (exact comparison)
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in pipeline[2:5]] == [
        'ReferringRandomFlip', 'PhotoMetricDistortion', 'ReferringResize']
    pipeline[2].prob = 1.0
    del pipeline[3:5]
    flipped = tool.build_dataset(cfg, 'val', 'train')[0]
    cfg.train_dataloader.dataset.pipeline[2].prob = 0.0
    plain = tool.build_dataset(cfg, 'val', 'train')[0]
    a = flipped['data_samples'].gt_sem_seg.data.numpy()[0]
    b = plain['data_samples'].gt_sem_seg.data.numpy()[0]
    assert a.any()
    np.testing.assert_array_equal(a, b[:, ::-1])
    np.testing.assert_array_equal(flipped['inputs'].numpy(),
                                  plain['inputs'].numpy()[:, :, ::-1])


def test_rejects_num_zero(tool):
    with pytest.raises(SystemExit):
        tool.parse_args([DEMO_CONFIG, '--num', '0'])
    assert osp.isfile(DEMO_CONFIG)


@pytest.mark.parametrize('seed', ['-1', str(2**32)])
def test_rejects_a_seed_numpy_cannot_take(tool, seed, capsys):
    with pytest.raises(SystemExit) as exit_:
        tool.parse_args([DEMO_CONFIG, '--seed', seed])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert '--seed' in err and f'must be in [0, {2**32 - 1}], got {seed}' in err
