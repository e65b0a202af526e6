"""Captioned synthetic scenes for CLIP pretraining (asda.synthetic.captions):
the caption checker on hand-built scenes, the generated captions, the
hard-negative twins."""
import random

import pytest
import torch

from asda.synthetic import captions as sc
from asda.synthetic.scenes import COLOURS, REGIONS, SHAPES, SIZE_WORDS, draw_scene, size_word

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
    assert sc.TWIN_KINDS == ('shape', 'position', 'size')
    for _ in range(20):
        group = sc.draw_twin_group(rng)
        (base, t0), (shape_twin, t1), (pos_twin, t2), (size_twin, t3) = group
        # captions: only the shape / the position / the size word differs
        diff, same_len = _diff(t0, t1)
        assert same_len and len(diff) == 1 and set(diff[0]) <= shapes, (t0, t1)
        diff, _ = _diff(t0, t2)
        assert diff and all(set(d) <= positions for d in diff), (t0, t2)
        diff, same_len = _diff(t0, t3)
        assert same_len and diff in ([('small', 'large')], [('large', 'small')]), (t0, t3)
        # scenes: one object's shape changed / every centre mirrored on an
        # axis / one object's size changed across the size words
        changed = [(a['shape'], b['shape'])
                   for a, b in zip(base['objects'], shape_twin['objects'])
                   if a != b]
        assert len(changed) == 1 and changed[0][0] != changed[0][1]
        resized = [(a, b) for a, b in zip(base['objects'], size_twin['objects'])
                   if a != b]
        assert len(resized) == 1
        a, b = resized[0]
        assert {k: v for k, v in a.items() if k != 'r'} == \
            {k: v for k, v in b.items() if k != 'r'}
        side = min(base['w'], base['h'])
        sizes = {size_word(a, base['w'], base['h']), size_word(b, base['w'], base['h'])}
        assert sizes == {'small', 'large'}, (a['r'] / side, b['r'] / side)
        # each caption is true of its own scene only (not even loosely)
        for i, (s, _) in enumerate(group):
            for j, (_, t) in enumerate(group):
                if i == j:
                    assert sc.describes(t, s)
                elif 0 in (i, j):  # twins of the base, not of each other
                    assert not sc.describes(t, s, strict=False), (t, i)
        x_mirror = all(
            p['cx'] == pytest.approx(base['w'] - o['cx']) and p['cy'] == o['cy']
            for o, p in zip(base['objects'], pos_twin['objects']))
        y_mirror = all(
            p['cy'] == pytest.approx(base['h'] - o['cy']) and p['cx'] == o['cx']
            for o, p in zip(base['objects'], pos_twin['objects']))
        assert x_mirror or y_mirror


def test_size_twin_keeps_the_scene_drawable():
    """A size twin's grown object stays inside the image and apart from the
    others; a caption without exactly one size word has no size twin."""
    rng = random.Random(3)
    for _ in range(30):
        base, _, _, (twin, _) = sc.draw_twin_group(rng)
        w, h = twin['w'], twin['h']
        objs = twin['objects']
        for k, o in enumerate(objs):
            assert o['r'] + 2 <= o['cx'] <= w - o['r'] - 2
            assert o['r'] + 2 <= o['cy'] <= h - o['r'] - 2
            for p in objs[k + 1:]:
                assert (o['cx'] - p['cx'])**2 + (o['cy'] - p['cy'])**2 > \
                    (o['r'] + p['r'] + 4)**2
    scene = dict(w=200, h=200, objects=[_obj('red', 'circle', 50, 100, 30),
                                        _obj('blue', 'square', 150, 100, 50)])
    assert sc._size_twin(scene, 'a red circle left of a blue square', (0, 1), rng) is None
    assert sc._size_twin(scene, 'a small red circle left of a large blue square',
                         (0, 1), rng) is None


def test_referring_expressions_pick_their_objects_with_twins():
    """Stage one's grounding expressions are the referring dataset's own
    candidates for their objects, on distinct objects, and a relational one
    is followed by its one-word twin on another object when the scene has
    one ("the left circle" / "the right circle")."""
    from asda.synthetic.refer import EXPRESSION_KINDS, candidate_expressions
    from asda.synthetic.scenes import rasterized
    rng = random.Random(0)
    twins = 0
    for _ in range(40):
        scene = draw_scene(rng)
        objs = rasterized(scene)
        exprs = sc.referring_expressions(scene, rng, 3)
        assert exprs and len({i for _, i, _ in exprs}) == len(exprs)
        for text, i, kind in exprs:
            cands = candidate_expressions(objs[i], objs, scene['w'], scene['h'])
            assert (text, kind) in {(c['text'], c['kind']) for c in cands}
            assert kind in EXPRESSION_KINDS
        for (t0, _, k0), (t1, _, k1) in zip(exprs, exprs[1:]):
            if k0 == k1 and sc._one_word_apart(t0, t1):
                twins += 1
    assert twins >= 20  # most scenes have a pair of one noun
    # two relational expressions on a hand-built scene: the twin follows
    scene = dict(w=200, h=200, paint_seed=0, objects=[
        _obj('red', 'circle', 50, 100, 35), _obj('blue', 'circle', 150, 100, 35)])
    for seed in range(5):
        out = sc.referring_expressions(scene, random.Random(seed), 2, relational_prob=1.0)
        (t0, i0, k0), (t1, i1, k1) = out
        assert k0 == k1 == 'left/right' and {i0, i1} == {0, 1}
        assert sc._one_word_apart(t0, t1), out


def test_stream_batches(scene):
    a = sc.CaptionStream(seed=4, batch_size=9, twin_share=0.9, img_size=64)
    b = sc.CaptionStream(seed=4, batch_size=9, twin_share=0.9, img_size=64)
    c = sc.CaptionStream(seed=5, batch_size=9, twin_share=0.9, img_size=64)
    imgs, caps = a.next_batch()
    assert imgs.shape == (9, 3, 64, 64) and len(caps) == 9
    imgs_b, caps_b = b.next_batch()
    assert caps == caps_b and torch.equal(imgs, imgs_b)
    assert c.next_batch()[1] != caps
    assert a.groups == 2  # 8 of 9 in twin groups of 4
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
        assert batch['expressions'] == alone['expressions']
        assert torch.equal(batch['images'], alone['images'])
        pairs = stream.pairs(k)
        for (scene, _), masks, phrases, exprs in zip(
                pairs, batch['masks'], batch['phrases'], batch['expressions']):
            assert masks.shape == (len(scene['objects']), 64, 64)
            assert len(exprs) <= 2
            assert all(0 <= i < len(scene['objects']) for _, i, _ in exprs)
            assert phrases == [f'{o["colour"]} {o["shape"]}' for o in scene['objects']]
            assert set(phrases) <= set(sc.PHRASES)
    assert len(sc.PHRASES) == 25
