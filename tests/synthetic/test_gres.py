"""The synthetic gRefCOCO generator (asda.synthetic.gres); its command line
is tested in tests/tools/test_make_synthetic.py, the expression checker in
test_expressions.py."""
import filecmp
import json
import os.path as osp
from collections import Counter, defaultdict

import cv2
import pytest
from synthetic_files import scenes_from_files

from asda.synthetic.expressions import (
    expression_combination,
    parse_expression,
    referred_objects,
)
from asda.synthetic.gres import (
    FORMS,
    GREFS_FILE,
    make_synthetic_grefcoco,
    multi_target_expressions,
    with_combination,
)
from asda.synthetic.scenes import COLOURS, SHAPES
from asda.synthetic.writing import UNC_SPLITS

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


def test_every_expression_refers_to_its_gref(generated):
    root, _, coco, grefs = generated
    scenes = scenes_from_files(root, 'grefcoco')
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
    with pytest.raises(ValueError, match='min_size'):
        make_synthetic_grefcoco(str(tmp_path), min_size=40)
    assert not list(tmp_path.iterdir())  # refused before writing anything


# ----------------------------------------------------------- hand-built scenes
def test_multi_target_expressions_of_a_scene(checker_scene):
    multi = multi_target_expressions(checker_scene)
    texts = {e['text']: t for t, es in multi.items() for e in es}
    assert texts['both red circles'] == (0, 1)
    assert texts['all the red objects'] == (0, 1, 3)
    assert texts['all the red shapes on the left'] == (0, 3)
    for text, target in texts.items():
        assert tuple(referred_objects(text, checker_scene)) == target, text
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
