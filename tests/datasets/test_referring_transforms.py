"""Flip with word swap, image loading checks."""
import copy
import re

import numpy as np
import pytest

from asda.datasets import (
    LoadReferringAnnotations,
    LoadReferringImage,
    PackReferringInputs,
    ReferringRandomFlip,
    swap_left_right,
)


@pytest.mark.parametrize('text, expected', [
    ('the man on the left', 'the man on the right'),
    ('right zebra', 'left zebra'),
    ('Left guy', 'Right guy'),
    ('LEFT cup', 'RIGHT cup'),
    ('the leftmost cat', 'the rightmost cat'),
    ('rightmost one, left of the dog', 'leftmost one, right of the dog'),
    ('left-hand side', 'right-hand side'),
    ('bright light', 'bright light'),
    ('upright bottle', 'upright bottle'),
    ('lefty brightly', 'lefty brightly'),
    ("right's", "left's"),
    ('', ''),
])
def test_swap_left_right(text, expected):
    assert swap_left_right(text) == expected
    assert swap_left_right(expected) == text


def _loaded(ds, idx):
    info = ds.get_data_info(idx)
    return LoadReferringAnnotations()(LoadReferringImage()(info))


def test_flip_image_mask_and_words(synthetic, build_dataset):
    root, _ = synthetic
    ds = build_dataset(root)
    lr = re.compile(r'\b(left|right|leftmost|rightmost)\b')
    idx = next(i for i in range(len(ds))
               if lr.search(ds.get_data_info(i)['text']))
    orig = _loaded(ds, idx)
    flip = ReferringRandomFlip(prob=1.0)
    once = flip(copy.deepcopy(orig))
    np.testing.assert_array_equal(once['img'], orig['img'][:, ::-1])
    np.testing.assert_array_equal(once['gt_seg_map'],
                                  np.fliplr(orig['gt_seg_map']))
    assert once['text'] == swap_left_right(orig['text'])
    assert once['text'] != orig['text']
    assert once['flip'] is True and once['flip_direction'] == 'horizontal'
    # The object's pixels move with the mask: same colour under the mask.
    np.testing.assert_allclose(
        once['img'][once['gt_seg_map'] > 0].mean(0),
        orig['img'][orig['gt_seg_map'] > 0].mean(0))
    twice = flip(copy.deepcopy(once))
    np.testing.assert_array_equal(twice['img'], orig['img'])
    np.testing.assert_array_equal(twice['gt_seg_map'], orig['gt_seg_map'])
    assert twice['text'] == orig['text']
    packed = PackReferringInputs()(copy.deepcopy(once))
    meta = packed['data_samples'].metainfo
    assert meta['flip'] is True and meta['text'] == once['text']
    np.testing.assert_array_equal(
        packed['data_samples'].gt_sem_seg.data[0].numpy(), once['gt_seg_map'])


def test_flip_probability(synthetic, build_dataset):
    root, _ = synthetic
    ds = build_dataset(root)
    orig = _loaded(ds, 0)
    out = ReferringRandomFlip(prob=0.0)(copy.deepcopy(orig))
    assert out['flip'] is False and out['flip_direction'] is None
    np.testing.assert_array_equal(out['img'], orig['img'])
    assert out['text'] == orig['text']
    np.random.seed(0)
    flip = ReferringRandomFlip(prob=0.5)
    flips = [flip(copy.deepcopy(orig))['flip'] for _ in range(40)]
    assert 5 < sum(flips) < 35
    with pytest.raises(ValueError, match='horizontal'):
        ReferringRandomFlip(direction='vertical')


def test_image_size_checked_against_annotations(synthetic, build_dataset):
    root, _ = synthetic
    info = build_dataset(root).get_data_info(0)
    info['height'] += 1
    with pytest.raises(ValueError, match=f'ref_id={info["ref_id"]}'):
        LoadReferringImage()(info)
