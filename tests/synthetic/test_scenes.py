"""The synthetic world (asda.synthetic.scenes): its rules (relations,
regions, sizes) on hand-built objects, placement with its size arguments,
and rendering for a model."""
import random

import numpy as np
import pytest
import torch

from asda.synthetic import scenes
from asda.synthetic.scenes import COLOURS

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')


def _at(cx, cy, area=100):
    return dict(cx=cx, cy=cy, area=area)


@pytest.mark.parametrize('relation,a,b,holds', [
    # 200 x 100: a position relation needs 15% of the side along its axis
    ('left of', _at(10, 50), _at(41, 50), True),      # 31 px > 30
    ('left of', _at(10, 50), _at(39, 50), False),     # 29 px: not clearly
    ('right of', _at(41, 50), _at(10, 50), True),
    ('above', _at(0, 10), _at(0, 26), True),          # 16 px > 15 (h = 100)
    ('below', _at(0, 10), _at(0, 26), False),
    ('below', _at(0, 24), _at(0, 10), False),         # 14 px
    # a size relation needs 1.6 times the area
    ('bigger than', _at(0, 0, 161), _at(0, 0, 100), True),
    ('bigger than', _at(0, 0, 160), _at(0, 0, 100), False),
    ('smaller than', _at(0, 0, 100), _at(0, 0, 161), True),
    ('smaller than', _at(0, 0, 100), _at(0, 0, 150), False),
])
def test_relation_holds_clearly(relation, a, b, holds):
    assert scenes.relation_holds(relation, a, b, 200, 100) is holds


def test_relation_at_all_with_margin_zero():
    assert scenes.relation_holds('left of', _at(10, 50), _at(11, 50), 200, 100,
                                 margin=0.0)
    assert not scenes.relation_holds('left of', _at(11, 50), _at(11, 50), 200,
                                     100, margin=0.0)


def test_regions_and_their_border():
    # 200 wide: 'on the left' clearly means cx < 100 - 24
    objs = [_at(70, 50), _at(90, 50), _at(150, 50), _at(101, 50)]
    assert [scenes.in_region('on the left', o, 200, 100) for o in objs] == [
        True, False, False, False]
    assert scenes.in_region('on the left', objs[1], 200, 100, margin=0.0)
    inside, border = scenes.region_split('on the left', range(4), objs, 200, 100)
    assert inside == [0] and border == [1]
    assert scenes.region_split('at the top', [0], [_at(0, 30)], 200, 100) == (
        [0], [])  # 30 < 50 - 12


def test_size_words():
    assert scenes.size_word(dict(r=11), 100, 200) == 'small'   # 0.11 of 100
    assert scenes.size_word(dict(r=21), 100, 200) is None
    assert scenes.size_word(dict(r=24), 200, 100) == 'large'


def test_category_ids_and_nouns():
    assert scenes.CATEGORY_IDS == {c['name']: c['id'] for c in scenes.CATEGORIES}
    assert sorted(scenes.CATEGORY_IDS.values()) == [1, 2, 3, 4, 5]
    assert scenes.SINGULAR_NOUNS == set(scenes.SHAPES) | {'object', 'shape', 'thing'}
    assert scenes.PLURAL_NOUNS == {n + 's' for n in scenes.SINGULAR_NOUNS}


@pytest.mark.parametrize('kw,count,radius', [
    (dict(), (2, scenes.MAX_OBJECTS), scenes.RADIUS_RANGE),
    (dict(min_objects=3, max_objects=3, radius_range=(0.05, 0.08)), (3, 3),
     (0.05, 0.08)),
])
def test_placement_follows_its_arguments(kw, count, radius):
    rng = random.Random(0)
    counts = set()
    for _ in range(40):
        w, h, objs = scenes.draw_layout(rng, 120, 180, **kw)
        side = min(w, h)
        counts.add(len(objs))
        for o in objs:
            assert radius[0] * side <= o['r'] <= radius[1] * side
            assert o['r'] < o['cx'] < w - o['r'] and o['r'] < o['cy'] < h - o['r']
        for i, a in enumerate(objs):  # no overlap
            for b in objs[i + 1:]:
                assert np.hypot(a['cx'] - b['cx'], a['cy'] - b['cy']) > a['r'] + b['r']
    assert min(counts) >= count[0] and max(counts) <= count[1]
    assert len(counts) == count[1] - count[0] + 1


def test_render_scene_masks_and_colours(scene):
    img, masks = scenes.render_scene(scene, size=112)
    assert img.shape == (3, 112, 112) and masks.shape == (3, 112, 112)
    mean = torch.tensor([122.7709383, 116.7460125, 104.09373615])[:, None]
    std = torch.tensor([68.5005327, 66.6321579, 70.32316305])[:, None]
    for o, m in zip(scene['objects'], masks):
        # area scales with the resize (200 -> 112)
        assert m.sum().item() > 0.5 * (o['r'] * 112 / 200) ** 2
        rgb = (img[:, m] * std + mean).mean(1)
        nearest = min(COLOURS, key=lambda c: np.abs(
            np.array(COLOURS[c]) - rgb.numpy()).sum())
        assert nearest == o['colour']
