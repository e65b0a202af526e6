"""JointReferringDataset on synthetic datasets built to overlap: one
dataset's val / test images are another's train images."""
import logging
import os
import os.path as osp
import pickle
import shutil

import pytest
from mmengine.config import Config
from mmseg.datasets import BaseSegDataset

from asda.engine.cli import apply_data_args, dataset_cfgs

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
# image ids of the 12-image synthetic dataset: unc train 1-9, val 10,
# testA 11, testB 12. The other refs files move images between splits:
OTHER_SPLITS = {
    ('refcoco+', 'refs(unc).p'): {1: 'val', 2: 'val', 3: 'testA', 10: 'train',
                                  11: 'train', 12: 'train'},
    ('refcocog', 'refs(umd).p'): {4: 'val', 5: 'test', 10: 'train', 11: 'train',
                                  12: 'train'},
    ('refcocog', 'refs(google).p'): {6: 'val', 10: 'train', 11: 'train', 12: 'train'},
}
EVAL_IMAGES = {1, 2, 3, 4, 5, 6, 10, 11, 12}


@pytest.fixture(scope='module')
def overlapping(synthetic, tmp_path_factory):
    """refcoco/, refcoco+/ and refcocog/ over the same images and
    instances, their splits crossing (:data:`OTHER_SPLITS`)."""
    root = tmp_path_factory.mktemp('joint')
    src = synthetic[0]
    os.symlink(osp.join(src, 'images'), root / 'images')
    (root / 'refcoco').mkdir()
    for name in ('instances.json', 'refs(unc).p'):
        shutil.copy(osp.join(src, 'refcoco', name), root / 'refcoco' / name)
    with open(osp.join(src, 'refcoco', 'refs(unc).p'), 'rb') as f:
        refs = pickle.load(f)
    assert {r['image_id'] for r in refs if r['split'] != 'train'} == {10, 11, 12}
    for (folder, name), moves in OTHER_SPLITS.items():
        os.makedirs(root / folder, exist_ok=True)
        shutil.copy(osp.join(src, 'refcoco', 'instances.json'), root / folder)
        default = 'val' if 'google' in name else 'train'
        moved = [dict(r, split=moves.get(r['image_id'], 'train' if r['split'] == 'train'
                                         else default)) for r in refs]
        with open(root / folder / name, 'wb') as f:
            pickle.dump(moved, f, protocol=2)
    return str(root), refs


def _joint_cfg(root, **kwargs):
    return dict(
        type='JointReferringDataset', data_root=root, data_prefix=dict(img_path='images/'),
        split='train', pipeline=[],
        datasets=[dict(ann_file=f'{f}/instances.json', split_file=f'{f}/{n}')
                  for f, n in (('refcoco', 'refs(unc).p'), ('refcoco+', 'refs(unc).p'),
                               ('refcocog', 'refs(umd).p'))],
        exclude=[dict(ann_file='refcocog/instances.json',
                      split_file='refcocog/refs(google).p', splits=['val'])],
        **kwargs)


def _build(cfg):
    from mmseg.registry import DATASETS

    import asda  # noqa: F401
    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        return DATASETS.build(cfg), [r.getMessage() for r in records]
    finally:
        logger.removeHandler(handler)


def _image_ids(dataset):
    return [BaseSegDataset.get_data_info(m, i)['image_id']
            for m in dataset.datasets for i in range(len(m))]


@pytest.fixture(scope='module')
def plain(overlapping):
    """The joint dataset of the three, ratios 1, and its log messages."""
    return _build(_joint_cfg(overlapping[0]))


def test_evaluation_images_are_dropped_and_logged(overlapping, plain):
    _, refs = overlapping
    joint, messages = plain
    ids = {joint.get_data_info(i)['image_id'] for i in range(len(joint))}
    assert ids and not ids & EVAL_IMAGES
    assert ids == set(range(1, 13)) - EVAL_IMAGES
    per_image = {}
    for r in refs:
        per_image[r['image_id']] = per_image.get(r['image_id'], 0) + len(r['sentences'])
    # each member's train images, and which of them an evaluation split holds
    trains = {'refcoco/refs(unc).p train': set(range(1, 10)),
              'refcoco+/refs(unc).p train': set(range(4, 13)),
              'refcocog/refs(umd).p train': {1, 2, 3} | set(range(6, 13))}
    assert len(per_image) == 12
    for entry, (name, images) in zip(joint.metainfo['dropped'], trains.items()):
        dropped = images & EVAL_IMAGES
        assert entry == dict(dataset=name, images=len(dropped), total_images=len(images),
                             samples=sum(per_image[i] for i in dropped),
                             total_samples=sum(per_image[i] for i in images))
        [message] = [m for m in messages if m.startswith(name + ':')]
        assert message.startswith(
            f'{name}: dropped {len(dropped)} of {len(images)} images '
            f'({entry["samples"]} of {entry["total_samples"]} samples) that appear in an '
            'evaluation split (refcoco/refs(unc).p testA, ')
        assert 'refcocog/refs(google).p val' in message
    assert len(joint) == sum(e['total_samples'] - e['samples'] for e in joint.metainfo['dropped'])
    assert sorted(_image_ids(joint)) == sorted(
        joint.get_data_info(i)['image_id'] for i in range(len(joint)))


def test_ratios(overlapping, plain):
    root, _ = overlapping
    plain, _ = plain
    sizes = [len(m) for m in plain.datasets]
    joint, _ = _build(_joint_cfg(root, ratios=[2, 0.5, 0]))
    assert len(joint) == 2 * sizes[0] + round(0.5 * sizes[1])
    first = [joint.get_data_info(i)['sent_id'] for i in range(2 * sizes[0])]
    assert first[:sizes[0]] == first[sizes[0]:]  # member 0 twice over
    member1 = {BaseSegDataset.get_data_info(joint.datasets[1], i)['sent_id']
               for i in range(sizes[1])}
    drawn = [joint.get_data_info(i)['sent_id'] for i in range(2 * sizes[0], len(joint))]
    assert set(drawn) <= member1
    # ratio 0: no sample of G-Ref, but its evaluation splits still count
    assert joint.metainfo['dropped'] == plain.metainfo['dropped']
    with pytest.raises(ValueError, match='ratios must be 3 numbers >= 0'):
        _build(_joint_cfg(root, ratios=[1, 1]))


def test_joint_config(overlapping):
    """The joint config's train dataset, on the overlapping folders through
    --data-root (which reaches the members and the exclude entries)."""
    root, _ = overlapping
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'asda', 'asda_vitb_refcoco-refcoco+-refcocog_joint.py'))
    apply_data_args(cfg, data_root=root)
    for dataset in dataset_cfgs(cfg):
        dataset.data_prefix = dict(img_path='images/')
    train = cfg.train_dataloader.dataset
    assert len(train.datasets) == 3 and train.ratios == [1.0, 1.0, 1.0]
    assert all(d.data_root == root for d in train.datasets + train.exclude)
    joint, _ = _build(train)
    ids = {joint.get_data_info(i)['image_id'] for i in range(len(joint))}
    assert ids == set(range(1, 13)) - EVAL_IMAGES
    sample = joint[0]
    assert sample['inputs'].shape[0] == 3 and sample['data_samples'].text
