"""The synthetic gRefCOCO generator and its expression checker."""
import filecmp
import json
import os.path as osp
from collections import Counter, defaultdict

import cv2
import numpy as np
import pytest
from asda_test_utils import load_tool

from asda.datasets.gres_expressions import (
    expression_combination,
    parse_expression,
    referred_objects,
)
from asda.datasets.synthetic import COLOURS, SHAPES, UNC_SPLITS
from asda.datasets.synthetic_gres import (
    FORMS,
    GREFS_FILE,
    make_synthetic_grefcoco,
    multi_target_expressions,
    with_combination,
)

# pycocotools' Masks.__array__ predates numpy 2's copy keyword.
pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')

SIZES = dict(train=14, val=3, testA=2, testB=2)


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('gres'))
    summary = make_synthetic_grefcoco(root, seed=3, split_sizes=SIZES)
    with open(osp.join(root, 'grefcoco', 'instances.json')) as f:
        coco = json.load(f)
    with open(osp.join(root, GREFS_FILE)) as f:
        grefs = json.load(f)
    return root, summary, coco, grefs


def _sentences(grefs, split=None):
    return [(g, s) for g in grefs for s in g['sentences']
            if split in (None, g['split'])]


def test_files_splits_and_format(generated):
    root, summary, coco, grefs = generated
    for rel in ('grefcoco/instances.json', GREFS_FILE, 'grefcoco/counts.json'):
        assert osp.isfile(osp.join(root, rel)), rel
    assert len(coco['images']) == sum(SIZES.values())
    for im in coco['images']:
        img = cv2.imread(osp.join(root, 'images', im['file_name']))
        assert img.shape[:2] == (im['height'], im['width'])
    assert {g['split'] for g in grefs} == set(UNC_SPLITS)
    split_of = defaultdict(set)
    anns = {a['id']: a for a in coco['annotations']}
    for g in grefs:
        split_of[g['image_id']].add(g['split'])
        assert set(g) == {'ref_id', 'ann_id', 'image_id', 'category_id',
                          'split', 'sent_ids', 'sentences', 'no_target'}
        assert g['sent_ids'] == [s['sent_id'] for s in g['sentences']]
        forms = {s['kind'] for s in g['sentences']}
        assert len(forms) == 1 and forms <= set(FORMS)
        if g['no_target']:
            assert g['ann_id'] == [-1] and g['category_id'] == []
            assert forms == {'no-target'}
        else:
            assert forms == {'single' if len(g['ann_id']) == 1 else 'multi'}
            assert g['category_id'] == [anns[a]['category_id']
                                        for a in g['ann_id']]
            assert {anns[a]['image_id'] for a in g['ann_id']} == {g['image_id']}
        for s in g['sentences']:
            assert set(s) == {'sent_id', 'sent', 'raw', 'tokens', 'kind',
                              'detail'}
            assert s['tokens'] == s['sent'].split()
            assert s['raw'].lower() == s['sent']
    assert all(len(v) == 1 for v in split_of.values())  # split by image
    kinds = Counter('rle' if isinstance(a['segmentation'], dict) else 'poly'
                    for a in coco['annotations'])
    assert kinds['rle'] > 0 and kinds['poly'] > 0


def _scenes_from_files(root, coco):
    """Each image's objects as the files show them: colour from the pixels,
    shape from the category, centre and area from the mask."""
    from pycocotools.coco import COCO
    api = COCO(osp.join(root, 'grefcoco', 'instances.json'))
    cats = {c['id']: c['name'] for c in coco['categories']}
    scenes = {im['id']: dict(w=im['width'], h=im['height'], objects=[],
                             ann_ids=[]) for im in coco['images']}
    for ann in coco['annotations']:
        im = api.imgs[ann['image_id']]
        img = cv2.imread(osp.join(root, 'images', im['file_name']))
        mask = api.annToMask(ann) > 0
        inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5))) > 0
        bgr = img[inner].mean(0)
        colour = min(COLOURS, key=lambda c: np.abs(
            np.array(COLOURS[c][::-1]) - bgr).sum())
        ys, xs = np.nonzero(mask)
        scene = scenes[ann['image_id']]
        scene['objects'].append(dict(
            colour=colour, shape=cats[ann['category_id']], cx=xs.mean() + 0.5,
            cy=ys.mean() + 0.5, area=int(mask.sum())))
        scene['ann_ids'].append(ann['id'])
    return scenes


def test_every_expression_refers_to_its_gref(generated):
    root, _, coco, grefs = generated
    scenes = _scenes_from_files(root, coco)
    checked = 0
    for g, s in _sentences(grefs):
        scene = scenes[g['image_id']]
        found = [scene['ann_ids'][i]
                 for i in referred_objects(s['sent'], scene)]
        assert found == ([] if g['no_target'] else g['ann_id']), s['sent']
        checked += 1
    assert checked == sum(len(g['sentences']) for g in grefs)
    # No text is used twice in an image.
    texts = Counter((g['image_id'], s['sent']) for g, s in _sentences(grefs))
    assert max(texts.values()) == 1


def test_shares_and_counts(generated):
    root, summary, _, grefs = generated
    with open(osp.join(root, 'grefcoco', 'counts.json')) as f:
        manifest = json.load(f)
    for split in UNC_SPLITS:
        sents = _sentences(grefs, split)
        forms = Counter(s['kind'] for _, s in sents)
        assert manifest['counts']['unc'][split] == dict(
            refs=sum(g['split'] == split for g in grefs),
            expressions=len(sents),
            images=len({g['image_id'] for g, _ in sents}))
        for form in FORMS:
            assert manifest['forms'][split][form]['expressions'] == forms[form]
            assert manifest['shares'][split][form] == pytest.approx(
                forms[form] / len(sents), abs=1e-4)
        assert forms['no-target'] > 0 and forms['multi'] > 0, split
    train = manifest['shares']['train']
    print('shares (train):', train)
    assert 0.1 < train['no-target'] < 0.35 and 0.1 < train['multi'] < 0.4


def test_no_target_combinations_are_train_targets(generated):
    _, _, _, grefs = generated
    train_targets = {expression_combination(s['sent'])
                     for g, s in _sentences(grefs, 'train')
                     if not g['no_target']}
    no_target = [s['sent'] for g, s in _sentences(grefs) if g['no_target']]
    assert no_target
    for text in no_target:
        assert expression_combination(text) in train_targets, text


def _template(text):
    """The expression with its noun phrase (colour, noun) masked."""
    spec = parse_expression(text)
    words = [w for w in text.split() if w not in COLOURS]
    noun = 'NPS' if spec['plural'] else 'NP'
    return ' '.join(noun if w.rstrip('s') in SHAPES + ('object', 'shape',
                                                        'thing') else w
                    for w in words)


def test_no_target_uses_target_words_and_templates(generated):
    _, _, _, grefs = generated
    for split in UNC_SPLITS:
        target = [s['sent'] for g, s in _sentences(grefs, split)
                  if not g['no_target']]
        templates = {_template(t) for t in target}
        words = {w for t in target for w in t.split()}
        for g, s in _sentences(grefs, split):
            colour, shape, _ = expression_combination(s['sent'])
            assert colour or shape, s['sent']  # every one names an attribute
            if g['no_target']:
                assert _template(s['sent']) in templates, s['sent']
                assert set(s['tokens']) - set(COLOURS) - {
                    w for sh in SHAPES for w in (sh, sh + 's')} <= words


def test_deterministic_per_seed(tmp_path):
    for name in ('a', 'b'):
        make_synthetic_grefcoco(str(tmp_path / name), seed=1,
                                split_sizes=dict(train=4, val=1, testA=1,
                                                 testB=1))
    for rel in (GREFS_FILE, 'grefcoco/instances.json', 'images/synth_000003.jpg'):
        assert filecmp.cmp(tmp_path / 'a' / rel, tmp_path / 'b' / rel,
                           shallow=False), rel


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='no_target_share'):
        make_synthetic_grefcoco(str(tmp_path), multi_share=0.5,
                                no_target_share=0.6)
    with pytest.raises(ValueError, match='unknown splits'):
        make_synthetic_grefcoco(str(tmp_path), split_sizes=dict(test=3))


def test_cli(tmp_path, capsys):
    cli = load_tool('tools/dataset_converters/make_synthetic_grefcoco.py',
                    'make_synthetic_grefcoco')
    summary = cli.main(['--out-dir', str(tmp_path), '--num-train', '3',
                        '--num-val', '1', '--num-testA', '1', '--num-testB',
                        '1', '--seed', '4'])
    assert summary['num_images'] == 6
    assert summary['splits']['train']['images'] == 3
    assert osp.isfile(tmp_path / GREFS_FILE)
    assert 'no-target' in capsys.readouterr().out


# ----------------------------------------------------------- hand-built scenes
def _scene():
    """200 x 200: two red circles left and right, a big blue square at the
    top middle, a red triangle bottom left."""
    objs = [dict(colour='red', shape='circle', cx=40, cy=100, area=1000),
            dict(colour='red', shape='circle', cx=160, cy=100, area=1000),
            dict(colour='blue', shape='square', cx=100, cy=30, area=2500),
            dict(colour='red', shape='triangle', cx=50, cy=170, area=900)]
    return dict(w=200, h=200, objects=objs)


@pytest.mark.parametrize('text,expected', [
    ('both circles', [0, 1]),
    ('the two red circles', [0, 1]),
    ('all red objects', [0, 1, 3]),
    ('the three red shapes', [0, 1, 3]),
    ('all the red shapes on the left', [0, 3]),
    ('the purple hexagon', []),
    ('both purple hexagons', []),
    ('the leftmost green object', []),
    ('all the blue circles at the top', []),
    ('the blue square', [2]),
    ('square', [2]),
    ('the blue object', [2]),
    ('the circle on the left', [0]),
    ('right circle', [1]),
    ('the biggest object', [2]),
    ('the rightmost red shape', [1]),
    ('the lowest object', [3]),
])
def test_checker_on_a_hand_built_scene(text, expected):
    assert referred_objects(text, _scene()) == expected


@pytest.mark.parametrize('text,match', [
    ('the circle', 'none is singled out'),
    ('the three circles', 'says 3 objects'),
    ('the leftmost circle', 'compares three or more'),
    ('the left red object', 'compares two'),
    ('the leftmost red shape', 'no object is clearly'),
    ('the red', 'one noun'),
    ('the circle square', 'one noun'),
    ('both the circles on the far left', 'plural phrase'),
])
def test_checker_rejects_unclear_or_malformed(text, match):
    with pytest.raises(ValueError, match=match):
        referred_objects(text, _scene())


def test_checker_region_border_is_an_error():
    scene = _scene()
    scene['objects'][3]['cx'] = 95  # just left of the middle: not clearly
    with pytest.raises(ValueError, match='border'):
        referred_objects('all the red shapes on the left', scene)


def test_multi_target_expressions_of_a_scene():
    multi = multi_target_expressions(_scene())
    texts = {e['text']: t for t, es in multi.items() for e in es}
    assert texts['both red circles'] == (0, 1)
    assert texts['all the red objects'] == (0, 1, 3)
    assert texts['all the red shapes on the left'] == (0, 3)
    for text, target in texts.items():
        assert tuple(referred_objects(text, _scene())) == target, text
        assert len(target) >= 2


def test_with_combination():
    assert with_combination('the leftmost red circle', 'purple', None) == \
        'the leftmost purple object'
    assert with_combination('both circles', None, 'hexagon') == \
        'both hexagons'
    assert with_combination('the thing on the left', 'green', 'square') == \
        'the green square on the left'
    assert with_combination('all the red shapes at the top', 'blue', None) \
        == 'all the blue shapes at the top'
