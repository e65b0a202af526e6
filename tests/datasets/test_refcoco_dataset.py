"""RefCOCODataset on a generated dataset: counts, fields, masks."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest
from asda_test_utils import split_stats
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from asda.datasets import LoadReferringAnnotations, RefCOCODataset

# pycocotools' Masks.__array__ predates numpy 2's copy keyword.
pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')

SPLITS = {
    'unc': ('train', 'val', 'testA', 'testB'),
    'umd': ('train', 'val', 'test'),
    'google': ('train', 'val'),
}


def _plain_refs(root, split_by):
    # Our own file: a plain pickle.load is fine here (independent reader).
    with open(osp.join(root, 'refcoco', f'refs({split_by}).p'), 'rb') as f:
        return pickle.load(f)


@pytest.mark.parametrize('split_by', list(SPLITS))
def test_counts_per_split(synthetic, build_dataset, split_by):
    root, summary = synthetic
    refs = _plain_refs(root, split_by)
    assert sorted({r['split'] for r in refs}) == sorted(SPLITS[split_by])
    total_refs = total_sents = 0
    for split in SPLITS[split_by]:
        mine = [r for r in refs if r['split'] == split]
        n_refs = len(mine)
        n_sents = sum(len(r['sentences']) for r in mine)
        assert n_refs > 0 and n_sents >= n_refs
        # The generator's own bookkeeping agrees with the file.
        assert summary['splits'][split_by][split]['refs'] == n_refs
        assert summary['splits'][split_by][split]['sentences'] == n_sents
        kw = dict(split_file=f'refcoco/refs({split_by}).p', split=split)
        by_sentence = build_dataset(root, **kw)
        by_ref = build_dataset(root, sample_mode='ref', **kw)
        assert len(by_sentence) == n_sents
        assert len(by_ref) == n_refs
        assert split_stats(by_sentence)['refs'] == n_refs
        assert split_stats(by_ref)['sentences'] == n_sents
        total_refs += n_refs
        total_sents += n_sents
    # Every split file covers the same refs.
    assert total_refs == summary['num_refs']
    assert total_sents == summary['num_sentences']


def test_data_info_fields(synthetic, build_dataset):
    root, _ = synthetic
    refs = {r['ref_id']: r for r in _plain_refs(root, 'unc')}
    with open(osp.join(root, 'refcoco', 'instances.json')) as f:
        coco = json.load(f)
    images = {im['id']: im for im in coco['images']}
    ds = build_dataset(root, split='val')
    assert ds.metainfo['classes'] == ('background', 'object')
    assert ds.reduce_zero_label is False
    sent_ids = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        ref = refs[info['ref_id']]
        sent = {s['sent_id']: s['sent'] for s in ref['sentences']}
        assert info['text'] == sent[info['sent_id']]
        assert info['ann_id'] == ref['ann_id']
        assert info['image_id'] == ref['image_id']
        img = images[info['image_id']]
        assert info['img_path'] == osp.join(root, 'images', img['file_name'])
        assert (info['height'], info['width']) == (img['height'],
                                                   img['width'])
        assert info['seg_map_path'] is None
        sent_ids.append(info['sent_id'])
    # One sample per expression, each exactly once.
    assert sorted(sent_ids) == sorted(
        s['sent_id'] for r in refs.values() if r['split'] == 'val'
        for s in r['sentences'])


def test_ref_mode_draws_sentences(synthetic, build_dataset):
    root, _ = synthetic
    ds = build_dataset(root, sample_mode='ref')
    refs = {r['ref_id']: r for r in _plain_refs(root, 'unc')}
    multi = [i for i in range(len(ds))
             if len(refs[ds.get_data_info(i)['ref_id']]['sentences']) > 1]
    assert multi, 'the fixture should hold refs with several sentences'
    np.random.seed(0)
    idx = multi[0]
    seen = set()
    for _ in range(50):
        info = ds.get_data_info(idx)
        ref = refs[info['ref_id']]
        sent = {s['sent_id']: s['sent'] for s in ref['sentences']}
        assert info['text'] == sent[info['sent_id']]
        assert 'sentences' not in info
        seen.add(info['sent_id'])
    assert seen == set(ref['sent_ids'])


@pytest.mark.parametrize('serialize', [True, False])
def test_masks_match_pycocotools(synthetic, build_dataset, serialize):
    root, summary = synthetic
    coco = COCO(osp.join(root, 'refcoco', 'instances.json'))
    load = LoadReferringAnnotations()
    kinds = set()
    for split in SPLITS['unc']:
        ds = build_dataset(root, split=split, serialize_data=serialize)
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            ann = coco.anns[info['ann_id']]
            seg = ann['segmentation']
            kinds.add('rle' if isinstance(seg, dict) else
                      f'poly{min(len(seg), 2)}')
            expected = coco.annToMask(ann)  # union of the parts
            got = load(info)['gt_seg_map']
            assert got.dtype == np.uint8
            assert set(np.unique(got)) <= {0, 1}
            np.testing.assert_array_equal(got, expected > 0)
    # The fixture exercises compressed RLE, single and multi-part polygons.
    assert kinds == {'rle', 'poly1', 'poly2'}


def _uncompressed_rle(mask):
    """COCO uncompressed RLE: column-major runs, starting with zeros."""
    flat = mask.flatten(order='F')
    counts, value, run = [], 0, 0
    for v in flat:
        if v == value:
            run += 1
        else:
            counts.append(run)
            value, run = v, 1
    counts.append(run)
    return dict(size=list(mask.shape), counts=[int(c) for c in counts])


def test_uncompressed_rle_and_overlapping_parts(synthetic_copy,
                                               build_dataset):
    root = synthetic_copy
    path = osp.join(root, 'refcoco', 'instances.json')
    with open(path) as f:
        coco = json.load(f)
    ds = build_dataset(root)
    info = ds.get_data_info(0)
    ann = next(a for a in coco['annotations'] if a['id'] == info['ann_id'])
    h, w = info['height'], info['width']
    mask = LoadReferringAnnotations()(info)['gt_seg_map']
    ann['segmentation'] = _uncompressed_rle(mask)
    # A second annotation: two overlapping polygons (sum would reach 2).
    info2 = ds.get_data_info(len(ds) - 1)
    ann2 = next(a for a in coco['annotations'] if a['id'] == info2['ann_id'])
    ann2['segmentation'] = [[2, 2, 30, 2, 30, 30, 2, 30],
                            [10, 10, 40, 10, 40, 40, 10, 40]]
    with open(path, 'w') as f:
        json.dump(coco, f)
    ds = build_dataset(root)
    got = LoadReferringAnnotations()(ds.get_data_info(0))['gt_seg_map']
    np.testing.assert_array_equal(got, mask)
    got2 = LoadReferringAnnotations()(ds.get_data_info(len(ds) - 1))
    h2, w2 = info2['height'], info2['width']
    rles = mask_utils.frPyObjects(ann2['segmentation'], h2, w2)
    union = mask_utils.decode(rles).sum(axis=2) > 0
    np.testing.assert_array_equal(got2['gt_seg_map'], union)
    assert got2['gt_seg_map'].max() == 1
    assert (h, w) == mask.shape


def test_pipelines_and_packing(synthetic, build_dataset):
    root, _ = synthetic
    scale = (64, 64)
    train = build_dataset(root, pipeline=[
        dict(type='LoadReferringImage'),
        dict(type='LoadReferringAnnotations'),
        dict(type='ReferringRandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='ReferringResize', scale=scale, keep_ratio=True),
        dict(type='PackReferringInputs'),
    ])
    test = build_dataset(root, split='val', test_mode=True, pipeline=[
        dict(type='LoadReferringImage'),
        dict(type='ReferringResize', scale=scale, keep_ratio=True),
        dict(type='LoadReferringAnnotations'),
        dict(type='PackReferringInputs'),
    ])
    out = train[0]
    img, sample = out['inputs'], out['data_samples']
    assert img.dtype.is_floating_point is False and img.shape[0] == 3
    assert max(img.shape[1:]) == 64
    assert sample.gt_sem_seg.shape == tuple(img.shape[1:])
    for key in ('text', 'ref_id', 'ann_id', 'sent_id', 'image_id', 'img_path',
                'ori_shape', 'img_shape', 'scale_factor', 'flip',
                'flip_direction', 'reduce_zero_label'):
        assert key in sample.metainfo, key
    out = test[0]
    sample = out['data_samples']
    info = test.get_data_info(0)
    assert max(out['inputs'].shape[1:]) == 64
    # Test ground truth stays at the original size.
    assert sample.gt_sem_seg.shape == (info['height'], info['width'])
    assert sample.ori_shape == (info['height'], info['width'])
    assert sample.flip is False and sample.flip_direction is None
    assert sample.text == info['text']
    assert set(sample.gt_sem_seg.data.unique().tolist()) <= {0, 1}


def test_lazy_init_and_bad_mode(synthetic, build_dataset):
    root, _ = synthetic
    ds = build_dataset(root, lazy_init=True)
    assert not ds._fully_initialized
    ds.full_init()
    assert len(ds) > 0
    with pytest.raises(ValueError, match='sample_mode'):
        build_dataset(root, sample_mode='image')
    assert isinstance(ds, RefCOCODataset)


def _py2_pickle(obj):
    """Protocol-2 pickle with Python 2 ``str`` (SHORT_BINSTRING) values."""
    if isinstance(obj, bytes):
        return b'U' + bytes([len(obj)]) + obj
    if isinstance(obj, int):
        return b'K' + bytes([obj])
    if isinstance(obj, list):
        return b']' + b'(' + b''.join(map(_py2_pickle, obj)) + b'e'
    if isinstance(obj, dict):
        return b'}' + b'(' + b''.join(
            _py2_pickle(k) + _py2_pickle(v) for k, v in obj.items()) + b'u'
    raise TypeError(obj)


@pytest.mark.parametrize('sent, text, utf8', [(b'caf\xc3\xa9', 'caf\u00e9', True),
                                              (b'caf\xe9', 'caf\u00e9', False)])
def test_python2_refs_pickle(tmp_path, sent, text, utf8):
    from asda.datasets import load_refs
    from asda.datasets.refs_io import RefsEncodingWarning
    ref = {b'ref_id': 1, b'ann_id': 2, b'image_id': 3, b'split': b'train',
           b'sentences': [{b'sent_id': 4, b'sent': sent}]}
    path = tmp_path / 'refs(unc).p'
    path.write_bytes(b'\x80\x02' + _py2_pickle([ref]) + b'.')
    if utf8:
        refs = load_refs(str(path))
    else:  # not UTF-8: that string is decoded as Latin-1, with a warning
        with pytest.warns(RefsEncodingWarning, match='ref_id=1 sentences'):
            refs = load_refs(str(path))
    assert refs == [dict(ref_id=1, ann_id=2, image_id=3, split='train',
                         sentences=[dict(sent_id=4, sent=text)])]


def test_one_latin1_string_does_not_garble_the_others(tmp_path):
    """One Latin-1 byte made the whole file be decoded as Latin-1: every
    UTF-8 'café' became 'cafÃ©', with no warning."""
    from asda.datasets import load_refs
    from asda.datasets.refs_io import RefsEncodingWarning

    def ref(ref_id, sent):
        return {b'ref_id': ref_id, b'ann_id': 2, b'image_id': 3, b'split': b'train',
                b'sentences': [{b'sent_id': ref_id, b'sent': b'the cup'},
                               {b'sent_id': 10 + ref_id, b'sent': sent}]}

    path = tmp_path / 'refs(unc).p'
    path.write_bytes(b'\x80\x02' + _py2_pickle(
        [ref(1, b'caf\xc3\xa9 au lait'), ref(2, b'the na\xefve cup'),
         ref(3, b'cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e')]) + b'.')
    with pytest.warns(RefsEncodingWarning) as caught:
        refs = load_refs(str(path))
    assert [r['sentences'][1]['sent'] for r in refs] == [
        'caf\u00e9 au lait', 'the na\u00efve cup', 'cr\u00e8me br\u00fbl\u00e9e']
    [warning] = caught
    assert str(warning.message).startswith(
        f"{path}: 1 string(s) are not UTF-8 and were decoded as Latin-1 (the other "
        f"strings as UTF-8): ref_id=2 sentences[1].sent 'the na\u00efve cup'.")
