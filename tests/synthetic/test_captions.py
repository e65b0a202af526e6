"""Captioned synthetic scenes for CLIP pretraining (asda.synthetic.captions):
the caption checker on hand-built scenes, the generated captions, the
hard-negative twins."""
import random

import pytest
import torch

from asda.synthetic import captions as sc
from asda.synthetic.scenes import COLOURS, REGIONS, SHAPES, SIZE_WORDS, draw_scene

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')


def _obj(colour, shape, cx, cy, r):
    return dict(colour=colour, shape=shape, cx=cx, cy=cy, r=r)


@pytest.mark.parametrize('caption, true', [
    ('a red circle', True),
    ('a small red circle', True),
    ('a large red circle', False),          # wrong size
    ('a large blue square', True),
    ('a red square', False),                # colour of one, shape of another
    ('a purple hexagon', False),            # absent object
    ('a red circle left of a blue square', True),
    ('a blue square left of a red circle', False),
    ('a red circle right of a blue square', False),
    ('a red circle left of a purple square', False),  # absent second object
    ('a green triangle above a blue square', True),
    ('a green triangle below a red circle', False),
    ('a red circle on the left', True),
    ('a blue square on the right', True),
    ('a green triangle at the top', True),
    ('a red circle on the right', False),
    ('a green triangle on the left', False),  # near the middle: not clearly
    ('a red circle and a blue square', True),
    ('a red circle and a red circle', False),  # two objects needed
    ('a red circle and a yellow diamond', False),
])
def test_describes_hand_built_scene(scene, caption, true):
    assert sc.describes(caption, scene) is true


def test_strict_and_loose_positions(scene):
    # cx 95 of 200 is left of the middle, but within the region margin
    assert not sc.describes('a green triangle on the left', scene)
    assert sc.describes('a green triangle on the left', scene, strict=False)
    assert not sc.describes('a green triangle on the right', scene, strict=False)
    # 55 px apart horizontally: loosely left of, not by the 15% margin (30 px)
    # ... and 25 px apart is within it
    near = dict(scene, objects=[_obj('red', 'circle', 70, 100, 20),
                                _obj('blue', 'square', 95, 100, 20)])
    assert not sc.describes('a red circle left of a blue square', near)
    assert sc.describes('a red circle left of a blue square', near, strict=False)


@pytest.mark.parametrize('caption', [
    'red circle', 'a red circle left a blue square', 'a circle',
    'a red circle on the left of a blue square', 'a huge red circle'])
def test_parse_rejects_other_grammar(caption):
    with pytest.raises(ValueError, match='is not of the form'):
        sc.parse_caption(caption)


def test_generated_captions_describe_their_scene():
    rng = random.Random(0)
    words = (set(COLOURS) | set(SHAPES) | set(SIZE_WORDS)
             | {w for p in list(sc.RELATIONS) + list(REGIONS) for w in p.split()}
             | {'a', 'and'})
    kinds = set()
    for _ in range(30):
        scene = draw_scene(rng)
        caps = sc.scene_captions(scene, rng)
        assert len(caps) >= 3  # several per image
        assert len({t for t, _ in caps}) == len(caps)
        for text, idx in caps:
            assert sc.describes(text, scene), text
            assert set(text.split()) <= words, text
            spec = sc.parse_caption(text)
            assert len(spec['nps']) == len(idx)
            for np_, i in zip(spec['nps'], idx):
                o = scene['objects'][i]
                assert (np_[1], np_[2]) == (o['colour'], o['shape'])
            kinds.add((len(idx), spec['link'] in sc.RELATIONS,
                       np_[0] is not None))
    # single-object and two-object captions, with relations, with sizes
    assert {len_ for len_, _, _ in kinds} == {1, 2}
    assert any(rel for _, rel, _ in kinds) and any(s for _, _, s in kinds)


def _diff(a, b):
    wa, wb = a.split(), b.split()
    return [(x, y) for x, y in zip(wa, wb) if x != y], len(wa) == len(wb)


def test_twin_groups_are_clean_hard_negatives():
    rng = random.Random(1)
    shapes = set(SHAPES)
    positions = {w for p in list(sc.RELATIONS) + list(REGIONS)
                 for w in p.split()}
    for _ in range(20):
        group = sc.draw_twin_group(rng)
        (base, t0), (shape_twin, t1), (pos_twin, t2) = group
        # captions: only the shape word / only the position word differs
        diff, same_len = _diff(t0, t1)
        assert same_len and len(diff) == 1 and set(diff[0]) <= shapes, (t0, t1)
        diff, _ = _diff(t0, t2)
        assert diff and all(set(d) <= positions for d in diff), (t0, t2)
        # scenes: one object's shape changed / every centre mirrored on an axis
        changed = [(a['shape'], b['shape'])
                   for a, b in zip(base['objects'], shape_twin['objects'])
                   if a != b]
        assert len(changed) == 1 and changed[0][0] != changed[0][1]
        # each caption is true of its own scene only (not even loosely)
        for i, (s, _) in enumerate(group):
            for j, (_, t) in enumerate(group):
                if i == j:
                    assert sc.describes(t, s)
                elif {i, j} != {1, 2}:  # twins of the base, not of each other
                    assert not sc.describes(t, s, strict=False), (t, i)
        x_mirror = all(
            p['cx'] == pytest.approx(base['w'] - o['cx']) and p['cy'] == o['cy']
            for o, p in zip(base['objects'], pos_twin['objects']))
        y_mirror = all(
            p['cy'] == pytest.approx(base['h'] - o['cy']) and p['cx'] == o['cx']
            for o, p in zip(base['objects'], pos_twin['objects']))
        assert x_mirror or y_mirror


def test_stream_batches(scene):
    a = sc.CaptionStream(seed=4, batch_size=9, twin_share=0.67, img_size=64)
    b = sc.CaptionStream(seed=4, batch_size=9, twin_share=0.67, img_size=64)
    c = sc.CaptionStream(seed=5, batch_size=9, twin_share=0.67, img_size=64)
    imgs, caps = a.next_batch()
    assert imgs.shape == (9, 3, 64, 64) and len(caps) == 9
    imgs_b, caps_b = b.next_batch()
    assert caps == caps_b and torch.equal(imgs, imgs_b)
    assert c.next_batch()[1] != caps
    assert a.groups == 2  # 6 of 9 in twin groups
    # the first group's captions differ in one word (shape twin)
    assert len(_diff(caps[0], caps[1])[0]) == 1
    with pytest.raises(ValueError, match='twin_share'):
        sc.CaptionStream(0, 6, twin_share=1.5)


def test_stream_batches_are_the_same_from_parallel_workers():
    """Batch k comes from its own random stream: read through a DataLoader
    with two worker processes, the batches are those of the stream read
    in order in this process; each image's masks and phrases are those of
    its objects."""
    stream = sc.CaptionStream(seed=4, batch_size=6, twin_share=0.5, img_size=64)
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, sampler=range(3), num_workers=2,
        collate_fn=lambda b: b)
    for k, batch in enumerate(loader):
        alone = sc.CaptionStream(4, 6, 0.5, 64)[k]
        assert batch['captions'] == alone['captions']
        assert torch.equal(batch['images'], alone['images'])
        pairs = stream.pairs(k)
        for (scene, _), masks, phrases in zip(pairs, batch['masks'], batch['phrases']):
            assert masks.shape == (len(scene['objects']), 64, 64)
            assert phrases == [f'{o["colour"]} {o["shape"]}' for o in scene['objects']]
            assert set(phrases) <= set(sc.PHRASES)
    assert len(sc.PHRASES) == 25
