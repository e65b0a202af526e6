"""The synthetic referring dataset generator (asda.synthetic.refer); its
command line is tested in tests/tools/test_make_synthetic.py."""
import filecmp
import json
import os
import os.path as osp
import pickle
import re
from collections import Counter, defaultdict

import cv2
import pytest
from synthetic_files import scenes_from_files

from asda.synthetic import refer
from asda.synthetic.expressions import referred_objects
from asda.synthetic.scenes import COLOURS, SHAPES

# pycocotools' Masks.__array__ predates numpy 2's copy keyword.
pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('gen'))
    summary = refer.make_synthetic_refcoco(root, num_images=22, seed=5)
    return root, summary


def _load(root):
    with open(osp.join(root, 'refcoco', 'instances.json')) as f:
        coco = json.load(f)
    refs = {}
    for split_by in ('unc', 'umd', 'google'):
        with open(osp.join(root, 'refcoco', f'refs({split_by}).p'), 'rb') as f:
            refs[split_by] = pickle.load(f)
    return coco, refs


def test_layout_and_format(generated):
    root, summary = generated
    coco, refs = _load(root)
    assert summary['num_images'] == len(coco['images']) == 22
    assert {c['name'] for c in coco['categories']} >= {'circle', 'square',
                                                        'triangle'}
    images = {im['id']: im for im in coco['images']}
    sizes = set()
    for im in coco['images']:
        img = cv2.imread(osp.join(root, 'images', im['file_name']))
        assert img.shape[:2] == (im['height'], im['width'])
        sizes.add((im['height'], im['width']))
        assert 160 <= min(img.shape[:2]) and max(img.shape[:2]) <= 256
        with open(osp.join(root, 'images', im['file_name']), 'rb') as f:
            assert f.read(2) == b'\xff\xd8'  # JPEG
    assert len(sizes) > 1 and any(h != w for h, w in sizes)
    kinds = Counter('rle' if isinstance(a['segmentation'], dict) else 'poly'
                    for a in coco['annotations'])
    assert kinds['rle'] > 0 and kinds['poly'] > 0
    for a in coco['annotations']:
        if isinstance(a['segmentation'], dict):
            assert isinstance(a['segmentation']['counts'], str)
            assert a['segmentation']['size'] == [
                images[a['image_id']]['height'],
                images[a['image_id']]['width']]
    expected_splits = {'unc': {'train', 'val', 'testA', 'testB'},
                       'umd': {'train', 'val', 'test'},
                       'google': {'train', 'val'}}
    for split_by, rs in refs.items():
        assert {r['split'] for r in rs} == expected_splits[split_by]
        # The same refs in every split file.
        assert [r['ref_id'] for r in rs] == [r['ref_id'] for r in refs['unc']]
    keys = {'ref_id', 'ann_id', 'image_id', 'category_id', 'split',
            'sent_ids', 'sentences', 'file_name'}
    for r in refs['unc']:
        assert set(r) == keys
        assert type(r) is dict
        assert r['sent_ids'] == [s['sent_id'] for s in r['sentences']]
        assert 1 <= len(r['sentences']) <= 3
        for s in r['sentences']:
            assert set(s) == {'sent_id', 'sent', 'raw', 'tokens', 'kind'}
            assert s['kind'] in refer.EXPRESSION_KINDS
            assert s['tokens'] == s['sent'].split()
            assert s['sent'] == s['sent'].lower()


def test_refs_per_image_and_unambiguous(generated):
    root, _ = generated
    coco, refs = _load(root)
    anns = {a['id']: a for a in coco['annotations']}
    by_image = defaultdict(list)
    for r in refs['unc']:
        by_image[r['image_id']].append(r)
        assert anns[r['ann_id']]['image_id'] == r['image_id']
        assert anns[r['ann_id']]['category_id'] == r['category_id']
    assert set(by_image) == {im['id'] for im in coco['images']}
    for rs in by_image.values():
        assert len(rs) >= 2
        assert len({r['ann_id'] for r in rs}) == len(rs)
        # No expression is shared by two objects of one image.
        texts = [s['sent'] for r in rs for s in r['sentences']]
        owners = defaultdict(set)
        for r in rs:
            for s in r['sentences']:
                owners[s['sent']].add(r['ann_id'])
        assert all(len(v) == 1 for v in owners.values()), texts
    # Split by image: no image in two unc splits.
    split_of = defaultdict(set)
    for r in refs['unc']:
        split_of[r['image_id']].add(r['split'])
    assert all(len(v) == 1 for v in split_of.values())


def test_expression_vocabulary(generated):
    _, refs = _load(generated[0])
    sents = [s['sent'] for r in refs['unc'] for s in r['sentences']]
    lr = [s for s in sents if re.search(r'\b(left|right)(most)?\b', s)]
    assert len(lr) >= 0.15 * len(sents)
    words = set(' '.join(sents).split())
    assert words & set(COLOURS)
    assert words & set(SHAPES)


def test_expressions_match_the_scene(generated):
    """Colour and shape words agree with the target's pixels and category."""
    root, _ = generated
    _, refs = _load(root)
    scenes = scenes_from_files(root, 'refcoco')
    for r in refs['unc']:
        scene = scenes[r['image_id']]
        target = scene['objects'][scene['ann_ids'].index(r['ann_id'])]
        for s in r['sentences']:
            words = s['sent'].split()
            for c in COLOURS:
                if c in words:
                    assert c == target['colour'], (s['sent'], target['colour'])
            for shape in SHAPES:
                if shape in words:
                    assert shape == target['shape'], s['sent']


SELECTORS = {
    'left': ('cx', min), 'leftmost': ('cx', min),
    'right': ('cx', max), 'rightmost': ('cx', max),
    'top': ('cy', min), 'topmost': ('cy', min), 'upper': ('cy', min),
    'bottom': ('cy', max), 'lowest': ('cy', max), 'lower': ('cy', max),
    'bigger': ('area', max), 'larger': ('area', max),
    'biggest': ('area', max), 'largest': ('area', max),
    'smaller': ('area', min), 'small': ('area', min),
    'smallest': ('area', min), 'tiniest': ('area', min),
}


RELATION_KIND = {w: ('left/right' if key == 'cx' else
                     'top/bottom' if key == 'cy' else 'size')
                 for w, (key, _) in SELECTORS.items()}


def _minimal_kind(words, ann_id, objects):
    """The fewest of an attribute-only expression's words (colour before
    shape) that leave only the target."""
    colour = [w for w in words if w in COLOURS]
    shape = [w for w in words if w in SHAPES]
    for kind, attrs in (('colour', dict(colour=colour)),
                        ('shape', dict(shape=shape)),
                        ('colour+shape', dict(colour=colour, shape=shape))):
        if any(not v for v in attrs.values()):
            continue
        left = [o['ann_id'] for o in objects
                if all(o[k] == v[0] for k, v in attrs.items())]
        if left == [ann_id]:
            return kind
    raise AssertionError(f'{words} does not single out {ann_id}')


def test_vocabulary_covers_every_expression(generated):
    _, refs = _load(generated[0])
    voc = refer.VOCABULARY
    assert voc['colour'] == tuple(COLOURS) and voc['shape'] == SHAPES
    assert set(voc['position']) == set(voc['left_right']) | set(voc['top_bottom'])
    assert set(SELECTORS) == set(voc['position']) | set(voc['size'])
    nouns = {'the', 'on', 'at', 'far', 'object', 'shape', 'thing'}
    for r in refs['unc']:
        for s in r['sentences']:
            assert set(s['tokens']) <= nouns.union(*voc.values()), s['sent']
    kinds = Counter(s['kind'] for r in refs['unc'] for s in r['sentences'])
    assert {'colour', 'left/right'} <= set(kinds)


def test_every_expression_singles_out_its_target(generated):
    """Parse each expression on its own and resolve it in the scene."""
    root, _ = generated
    _, refs = _load(root)
    objects = {  # image id -> [dict(ann_id, colour, shape, cx, cy, area)]
        image_id: [dict(o, ann_id=a) for o, a in zip(scene['objects'], scene['ann_ids'])]
        for image_id, scene in scenes_from_files(root, 'refcoco').items()}
    checked = 0
    for r in refs['unc']:
        for s in r['sentences']:
            words = s['sent'].split()
            group = [o for o in objects[r['image_id']]
                     if all(o['colour'] == w for w in words
                            if w in COLOURS)
                     and all(o['shape'] == w for w in words
                             if w in SHAPES)]
            sel = [SELECTORS[w] for w in words if w in SELECTORS]
            assert len(sel) <= 1, s['sent']
            if not sel:
                assert [o['ann_id'] for o in group] == [r['ann_id']], \
                    s['sent']
                assert s['kind'] == _minimal_kind(words, r['ann_id'],
                                                  objects[r['image_id']])
            else:
                key, pick = sel[0]
                assert len(group) >= 2, s['sent']
                best = pick(group, key=lambda o: o[key])
                assert best['ann_id'] == r['ann_id'], s['sent']
                # ... and clearly so: no runner-up within a small margin.
                rest = [o[key] for o in group if o is not best]
                gap = min(abs(best[key] - v) for v in rest)
                assert gap > 0.05 * (best[key] if key == 'area' else 100)
                relation = next(w for w in words if w in SELECTORS)
                assert s['kind'] == RELATION_KIND[relation], s['sent']
            checked += 1
    assert checked == sum(len(r['sentences']) for r in refs['unc'])


def test_deterministic_per_seed(tmp_path):
    a = refer.make_synthetic_refcoco(str(tmp_path / 'a'), num_images=6, seed=1)
    b = refer.make_synthetic_refcoco(str(tmp_path / 'b'), num_images=6, seed=1)
    refer.make_synthetic_refcoco(str(tmp_path / 'c'), num_images=6, seed=2)
    assert a['splits'] == b['splits']
    for rel in ['refcoco/instances.json', 'refcoco/refs(unc).p',
                'refcoco/refs(umd).p', 'refcoco/refs(google).p'] + [
                    'images/' + f
                    for f in sorted(os.listdir(tmp_path / 'a' / 'images'))]:
        assert filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'b' / rel,
                           shallow=False), rel
    assert not filecmp.cmp(tmp_path / 'a' / 'refcoco/instances.json',
                           tmp_path / 'c' / 'refcoco/instances.json',
                           shallow=False)



def test_the_checker_resolves_every_candidate_to_its_target():
    """The generator's candidate expressions and the expression checker
    (asda.synthetic.expressions) read the same rules (asda.synthetic.scenes):
    every candidate of every object resolves to that object alone."""
    import random

    from asda.synthetic.scenes import scene_record
    rng = random.Random(11)
    checked = Counter()
    for _ in range(60):
        w, h, objs, cands = refer.draw_describable_scene(rng)
        scene = scene_record(objs, w, h)
        for i, expressions in enumerate(cands):
            for e in expressions:
                assert referred_objects(e['text'], scene) == [i], e
                checked[e['kind']] += 1
    assert set(checked) == set(refer.EXPRESSION_KINDS), checked
