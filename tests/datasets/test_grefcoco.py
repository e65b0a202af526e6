"""GRefCOCODataset on a small gRefCOCO written here: targets, masks, errors."""
import copy
import json
import logging
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
from asda_test_utils import split_stats
from pycocotools import mask as mask_utils

from asda.datasets import (
    BadImagesError,
    GRefCOCODataset,
    LoadReferringAnnotations,
    PackReferringInputs,
    RefCOCODataset,
)

# pycocotools' Masks.__array__ predates numpy 2's copy keyword.
pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')

ANN_FILE = osp.join('grefcoco', 'instances.json')
JSON_FILE = osp.join('grefcoco', 'grefs(unc).json')
PICKLE_FILE = osp.join('grefcoco', 'grefs(unc).p')
IMAGES = {1: (40, 50), 2: (30, 36)}  # image id: (height, width)


def _box(h, w, y0, y1, x0, x1):
    mask = np.zeros((h, w), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def _compressed_rle(mask):
    rle = mask_utils.encode(np.asfortranarray(mask))
    return dict(size=rle['size'], counts=rle['counts'].decode('ascii'))


def _uncompressed_rle(mask):
    """COCO uncompressed RLE: column-major runs, starting with zeros."""
    flat = mask.flatten(order='F')
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0] + counts
    return dict(size=list(mask.shape), counts=counts)


def _annotations():
    """COCO annotations of both images: polygons (one and two parts),
    compressed and uncompressed RLE, and a crowd region."""
    h1, w1 = IMAGES[1]
    h2, w2 = IMAGES[2]
    rle_mask = _box(h1, w1, 25, 38, 30, 48)
    crowd_mask = _box(h1, w1, 0, 12, 35, 50)
    rle2_mask = _box(h2, w2, 18, 28, 2, 20)
    return [
        dict(id=11, image_id=1, category_id=1, iscrowd=0,
             segmentation=[[2, 2, 18, 2, 18, 16, 2, 16]]),
        dict(id=12, image_id=1, category_id=2, iscrowd=0,
             segmentation=[[20, 4, 30, 4, 30, 20, 20, 20],
                           [25, 10, 34, 10, 34, 24, 25, 24]]),
        dict(id=13, image_id=1, category_id=1, iscrowd=0,
             segmentation=_compressed_rle(rle_mask)),
        dict(id=14, image_id=1, category_id=1, iscrowd=1,
             segmentation=_uncompressed_rle(crowd_mask)),
        dict(id=21, image_id=2, category_id=3, iscrowd=0,
             segmentation=[[4, 3, 30, 3, 17, 15]]),
        dict(id=22, image_id=2, category_id=3, iscrowd=0,
             segmentation=_uncompressed_rle(rle2_mask)),
    ]


def _sentences(ref_id, *texts):
    return [dict(sent_id=ref_id * 10 + k, sent=t, raw=t, tokens=t.split())
            for k, t in enumerate(texts)]


def _gref(ref_id, image_id, ann_id, category_id, split, *texts, **extra):
    sentences = _sentences(ref_id, *texts)
    return dict(ref_id=ref_id, image_id=image_id, ann_id=ann_id,
                category_id=category_id, split=split,
                sent_ids=[s['sent_id'] for s in sentences],
                sentences=sentences, **extra)


def _grefs():
    return [
        # Several targets: polygon, two-part polygon, compressed RLE.
        _gref(1, 1, [11, 12, 13], [1, 2, 1], 'train', 'all the things',
              'every object'),
        # No target, the release's way.
        _gref(2, 1, [-1], [-1], 'train', 'the purple hexagon'),
        # Scalar ann_id / category_id, as a RefCOCO ref.
        _gref(3, 2, 21, 3, 'train', 'the triangle'),
        # No target flagged as well.
        _gref(4, 2, [-1], None, 'val', 'the dog', no_target=True),
        # Uncompressed RLE beside a polygon; no category_id given.
        _gref(5, 2, [21, 22], None, 'val', 'both shapes', no_target=False),
        # A crowd annotation is listed but left out of the mask.
        _gref(6, 1, [13, 14], [1, 1], 'testA', 'the box and the crowd'),
        _gref(7, 2, [22], [3], 'testB', 'the bar'),
    ]


def _write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f)


def write_grefcoco(root):
    """The fixture: images, instances.json, grefs as JSON and pickle."""
    os.makedirs(osp.join(root, 'train2014'))
    os.makedirs(osp.join(root, 'grefcoco'))
    rng = np.random.default_rng(0)
    images = []
    for img_id, (h, w) in IMAGES.items():
        name = f'COCO_train2014_{img_id:012d}.jpg'
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        assert cv2.imwrite(osp.join(root, 'train2014', name), img)
        images.append(dict(id=img_id, file_name=name, height=h, width=w))
    _write_json(osp.join(root, ANN_FILE),
                dict(images=images, annotations=_annotations(),
                     categories=[dict(id=i, name=f'c{i}') for i in (1, 2, 3)]))
    _write_json(osp.join(root, JSON_FILE), _grefs())
    with open(osp.join(root, PICKLE_FILE), 'wb') as f:
        pickle.dump(_grefs(), f, protocol=2)
    return root


@pytest.fixture
def groot(tmp_path):
    return write_grefcoco(str(tmp_path / 'data'))


def build(root, **kwargs):
    from mmseg.registry import DATASETS
    return DATASETS.build(dict(type='GRefCOCODataset', data_root=root,
                               **kwargs))


def hand_mask(ann_ids):
    """The union of the listed non-crowd annotations, built from the
    fixture's own masks (RLE) and pycocotools' polygon rasteriser."""
    anns = {a['id']: a for a in _annotations()}
    h, w = IMAGES[anns[ann_ids[0]]['image_id']] if ann_ids else (0, 0)
    union = np.zeros((h, w), bool)
    for ann_id in ann_ids:
        ann = anns[ann_id]
        if ann['iscrowd']:
            continue
        seg = ann['segmentation']
        if isinstance(seg, list):
            part = mask_utils.decode(mask_utils.frPyObjects(seg, h, w))
            union |= part.any(axis=2)
        elif isinstance(seg['counts'], list):  # uncompressed: runs
            flat = np.repeat(np.arange(len(seg['counts'])) % 2,
                             seg['counts'])
            union |= flat.reshape((h, w), order='F').astype(bool)
        else:
            union |= mask_utils.decode(
                dict(size=seg['size'], counts=seg['counts'].encode())) > 0
    return union.astype(np.uint8)


# ----------------------------------------------------------------------
EXPECTED = {  # ref_id: (ann_id, category_id, no_target, split)
    1: ([11, 12, 13], [1, 2, 1], False, 'train'),
    2: ([], [], True, 'train'),
    3: ([21], [3], False, 'train'),
    4: ([], [], True, 'val'),
    5: ([21, 22], [3, 3], False, 'val'),
    6: ([13, 14], [1, 1], False, 'testA'),
    7: ([22], [3], False, 'testB'),
}


@pytest.mark.parametrize('split_file', [JSON_FILE, PICKLE_FILE])
def test_fields_and_masks_match_hand_built(groot, split_file):
    seen = set()
    load = LoadReferringAnnotations()
    for split in ('train', 'val', 'testA', 'testB'):
        ds = build(groot, split_file=split_file, split=split)
        assert isinstance(ds, RefCOCODataset)
        refs = {r['ref_id']: r for r in _grefs() if r['split'] == split}
        assert len(ds) == sum(len(r['sentences']) for r in refs.values())
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            ann_id, category_id, no_target, ref_split = EXPECTED[
                info['ref_id']]
            assert ref_split == split
            assert info['ann_id'] == ann_id
            assert info['category_id'] == category_id
            assert info['no_target'] is no_target
            assert 'segmentation' not in info
            non_crowd = [a for a in ann_id if a != 14]
            assert len(info['segmentations']) == len(non_crowd)
            sent = {s['sent_id']: s['sent']
                    for s in refs[info['ref_id']]['sentences']}
            assert info['text'] == sent[info['sent_id']]
            h, w = IMAGES[info['image_id']]
            assert (info['height'], info['width']) == (h, w)
            mask = load(copy.deepcopy(info))['gt_seg_map']
            assert mask.dtype == np.uint8 and mask.shape == (h, w)
            expected = hand_mask(ann_id) if ann_id else np.zeros((h, w))
            np.testing.assert_array_equal(mask, expected)
            assert (mask.sum() == 0) == no_target
            seen.add(info['ref_id'])
    assert seen == set(EXPECTED)


def test_union_and_crowd_are_not_trivial(groot):
    # The multi-target mask is more than any one part; the crowd region
    # adds pixels the mask must not have.
    multi = hand_mask([11, 12, 13])
    for ann_id in (11, 12, 13):
        assert 0 < hand_mask([ann_id]).sum() < multi.sum()
    crowd = mask_utils.decode(mask_utils.frPyObjects(
        _annotations()[3]['segmentation'], *IMAGES[1]))
    assert (crowd.astype(bool) & ~hand_mask([13]).astype(bool)).any()


def test_pickle_and_json_give_the_same_data(groot):
    a = build(groot, split_file=JSON_FILE, split='train')
    b = build(groot, split_file=PICKLE_FILE, split='train')
    assert [a.get_data_info(i) for i in range(len(a))] == \
        [b.get_data_info(i) for i in range(len(b))]


def test_format_read_from_content(groot):
    # JSON and pickle without the usual extension: read by content.
    for src, dst in ((JSON_FILE, 'grefcoco/grefs_json.data'),
                     (PICKLE_FILE, 'grefcoco/grefs_pickle.data')):
        os.rename(osp.join(groot, src), osp.join(groot, dst))
        ds = build(groot, split_file=dst, split='val')
        assert [ds.get_data_info(i)['ref_id'] for i in range(len(ds))] == \
            [4, 5]


def test_ref_mode_and_stats(groot):
    ds = build(groot, split='train', sample_mode='ref')
    assert len(ds) == 3
    np.random.seed(0)
    texts = {ds.get_data_info(0)['text'] for _ in range(30)}
    assert texts == {'all the things', 'every object'}
    assert ds.get_data_info(0)['ann_id'] == [11, 12, 13]
    assert split_stats(ds) == dict(samples=3, refs=3, sentences=4, images=2)


def test_pipeline_packs_no_target(groot):
    ds = build(groot, split='train', pipeline=[
        dict(type='LoadReferringImage'),
        dict(type='LoadReferringAnnotations'),
        dict(type='PackReferringInputs'),
    ])
    by_ref = {}
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        by_ref[sample.ref_id] = sample
    empty, multi = by_ref[2], by_ref[1]
    assert empty.no_target is True and empty.ann_id == []
    assert empty.gt_sem_seg.data.sum() == 0
    assert multi.no_target is False and multi.ann_id == [11, 12, 13]
    np.testing.assert_array_equal(multi.gt_sem_seg.data[0].numpy(),
                                  hand_mask([11, 12, 13]))


def test_exported_and_registered():
    from mmseg.registry import DATASETS

    import asda
    assert asda.GRefCOCODataset is GRefCOCODataset
    assert DATASETS.get('GRefCOCODataset') is GRefCOCODataset


# ----------------------------------------------------------------------
def _edit(root, rel, edit):
    path = osp.join(root, rel)
    with open(path) as f:
        obj = json.load(f)
    edit(obj)
    _write_json(path, obj)
    return path


def test_missing_annotation_names_file_and_ref(groot):
    path = _edit(groot, ANN_FILE, lambda coco: coco.update(annotations=[
        a for a in coco['annotations'] if a['id'] != 12]))
    with pytest.raises(ValueError) as err:
        build(groot, split='train')
    msg = str(err.value)
    assert path in msg and 'grefs(unc).json' in msg
    assert 'ref_id=1 ' in msg and 'annotation id=12' in msg


def test_annotation_of_another_image(groot):
    _edit(groot, JSON_FILE, lambda grefs: grefs[0].update(ann_id=[11, 21]))
    with pytest.raises(ValueError, match='belongs to image id=2') as err:
        build(groot, split='train')
    assert 'ref_id=1 ' in str(err.value)
    assert 'grefs(unc).json' in str(err.value)


def test_unknown_split_lists_available(groot):
    with pytest.raises(ValueError) as err:
        build(groot, split='testC')
    msg = str(err.value)
    assert 'testC' in msg and 'grefs(unc).json' in msg
    assert "['testA', 'testB', 'train', 'val']" in msg


def test_ref_without_sentences_gives_no_sample(groot):
    """gRefCOCO's released val split has grefs without sentences, which its
    authors advise skipping (henghuiding/gRefCOCO#8): such a gref gives no
    sample and is named in a warning; the split still loads."""
    from mmengine.logging import MMLogger
    _edit(groot, JSON_FILE, lambda grefs: grefs[2].update(sentences=[]))
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()  # where the dataset's print_log goes
    logger.addHandler(handler)
    try:
        ds = build(groot, split='train')
    finally:
        logger.removeHandler(handler)
    assert {ds.get_data_info(i)['ref_id'] for i in range(len(ds))} == {1, 2}
    [message] = [r.getMessage() for r in records]
    assert message.startswith("1 ref(s) of split 'train' have no sentences and give no "
                              'sample: ref_id [3]') and 'grefs(unc).json' in message


def test_bad_segmentation(groot):
    def edit(coco):
        coco['annotations'][1]['segmentation'] = [
            [20, 4, 30, 4, 30, 20], [1.0, 2.0, 3.0, 4.0]]

    path = _edit(groot, ANN_FILE, edit)
    with pytest.raises(ValueError, match='at least 3 points') as err:
        build(groot, split='train')
    msg = str(err.value)
    assert path in msg and 'annotation id=12' in msg and 'ref_id=1' in msg
    ds = build(groot, split='train', skip_invalid_polygons=True)
    info = ds.get_data_info(0)
    assert info['segmentations'][1] == [[20, 4, 30, 4, 30, 20]]


@pytest.mark.parametrize('field, match', [
    (dict(ann_id=[-1, 11]), 'mixes -1'),
    (dict(ann_id=[11], no_target=True), 'no_target=True contradicts'),
    (dict(ann_id=[-1], no_target=False), 'no_target=False contradicts'),
    (dict(ann_id=['11']), "annotation id '11' is not an integer"),
])
def test_inconsistent_targets(groot, field, match):
    _edit(groot, JSON_FILE, lambda grefs: grefs[0].update(field))
    with pytest.raises(ValueError, match=match) as err:
        build(groot, split='train')
    assert 'ref_id=1 of' in str(err.value)
    assert 'grefs(unc).json' in str(err.value)


def test_empty_ann_id_list_is_no_target(groot):
    _edit(groot, JSON_FILE, lambda grefs: grefs[0].update(
        ann_id=[], category_id=[]))
    info = build(groot, split='train').get_data_info(0)
    assert info['no_target'] is True and info['segmentations'] == []


class _Evil:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_malicious_pickle_is_refused(groot, tmp_path):
    marker = tmp_path / 'pwned'
    grefs = _grefs()
    grefs[0]['sentences'][0]['sent'] = _Evil(marker)
    path = osp.join(groot, PICKLE_FILE)
    with open(path, 'wb') as f:
        pickle.dump(grefs, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError) as err:
        build(groot, split_file=PICKLE_FILE, split='train')
    assert path in str(err.value) and 'system' in str(err.value)
    assert not marker.exists()


def test_bad_json_and_missing_file(groot):
    path = osp.join(groot, JSON_FILE)
    with open(path, 'w') as f:
        f.write('[{"ref_id": 1,')
    with pytest.raises(ValueError, match='cannot read the refs file as JSON') \
            as err:
        build(groot, split='train')
    assert path in str(err.value)
    _write_json(path, [dict(ref_id=9, split='train')])
    with pytest.raises(ValueError, match='lacks the keys') as err:
        build(groot, split='train')
    assert path in str(err.value) and 'ref_id=9' in str(err.value)
    os.remove(path)
    with pytest.raises(FileNotFoundError, match='grefs'):
        build(groot, split='train')


def test_refcoco_dataset_names_a_list_ann_id(groot):
    with pytest.raises(ValueError, match=r'annotation id \[11, 12, 13\] is '
                       'not an integer') as err:
        RefCOCODataset(data_root=groot, ann_file=ANN_FILE,
                       split_file=JSON_FILE, split='train')
    assert 'ref_id=1 of' in str(err.value)


def test_bad_images_pre_flight(groot):
    os.remove(osp.join(groot, 'train2014', 'COCO_train2014_000000000002.jpg'))
    with pytest.raises(BadImagesError, match=r'ref_id=\[3\]'):
        build(groot, split='train')
    ds = build(groot, split='train', skip_bad_samples=True)
    assert sorted({ds.get_data_info(i)['ref_id'] for i in range(len(ds))}) \
        == [1, 2]
    assert [s['ref_id'] for s in ds.metainfo['skipped_samples']] == [3]


# ----------------------------------------------------------------------
def test_loading_unions_segmentations():
    h, w = 20, 24
    poly = [[1, 1, 10, 1, 10, 10, 1, 10]]
    box = _box(h, w, 8, 18, 6, 20)  # overlaps the polygon
    results = dict(height=h, width=w, ref_id=5,
                   segmentations=[poly, _compressed_rle(box),
                                  _uncompressed_rle(box[::-1].copy())])
    got = LoadReferringAnnotations()(copy.deepcopy(results))
    poly_mask = mask_utils.decode(mask_utils.frPyObjects(poly, h, w))[..., 0]
    expected = (poly_mask > 0) | (box > 0) | (box[::-1] > 0)
    np.testing.assert_array_equal(got['gt_seg_map'], expected)
    assert got['gt_seg_map'].dtype == np.uint8
    assert got['seg_fields'] == ['gt_seg_map']
    # An empty list: no target, an all-zero mask of the image's size.
    empty = LoadReferringAnnotations()(dict(height=h, width=w,
                                            segmentations=[]))
    assert empty['gt_seg_map'].shape == (h, w)
    assert empty['gt_seg_map'].dtype == np.uint8
    assert not empty['gt_seg_map'].any()
    # A bad part names the sample and which segmentation.
    results['segmentations'][1] = dict(size=[h + 1, w], counts='x')
    with pytest.raises(ValueError, match='ref_id=5, segmentation #1'):
        LoadReferringAnnotations()(results)


def test_pack_carries_no_target():
    h, w = 6, 8
    base = dict(img=np.zeros((h, w, 3), np.uint8),
                gt_seg_map=np.zeros((h, w), np.uint8), ori_shape=(h, w),
                img_shape=(h, w), text='the dog', ref_id=1, ann_id=[],
                seg_fields=['gt_seg_map'])
    packed = PackReferringInputs()(dict(copy.deepcopy(base), no_target=True))
    meta = packed['data_samples'].metainfo
    assert meta['no_target'] is True and meta['ann_id'] == []
    # RefCOCO samples have no such key and get none.
    packed = PackReferringInputs()(copy.deepcopy(base))
    assert 'no_target' not in packed['data_samples'].metainfo


def test_all_crowd_targets_are_refused(groot):
    """A gref whose every target is iscrowd would load as a target with an
    empty mask that no prediction can score on; the GRES API's mapper
    refuses it too (it asserts such a sample is a no-target one)."""
    _edit(groot, JSON_FILE, lambda grefs: grefs[5].update(ann_id=[14], category_id=[1]))
    with pytest.raises(ValueError) as err:
        build(groot, split='testA')
    msg = str(err.value)
    assert f'ref_id=6 of {osp.join(groot, JSON_FILE)}: every target annotation ([14]) ' \
        f'is iscrowd in {osp.join(groot, ANN_FILE)}' in msg
    # one crowd target beside a non-crowd one is fine (the crowd part is left out)
    _edit(groot, JSON_FILE, lambda grefs: grefs[5].update(ann_id=[13, 14]))
    assert build(groot, split='testA').get_data_info(0)['ann_id'] == [13, 14]
