"""The demo steps (asda.synthetic.demo): the control swap, the breakdowns by
expression kind and form, the examples' mask colours, the data set-up. The
demo tools' end-to-end runs are in tests/tools/test_demo_synthetic*.py."""
import json
import pickle

import pytest

from asda.datasets import load_refs
from asda.synthetic import demo


def _ref(image_id, ref_id, texts, split='val'):
    sent_ids = [ref_id * 10 + i for i in range(len(texts))]
    return dict(image_id=image_id, ref_id=ref_id, ann_id=ref_id, split=split,
                sent_ids=sent_ids,
                sentences=[dict(sent_id=i, sent=t) for i, t in zip(sent_ids, texts)])


def test_swap_gives_each_ref_another_refs_expressions():
    refs = [
        _ref(1, 10, ['red circle', 'the red one']),
        _ref(1, 11, ['blue square']),
        _ref(1, 12, ['left triangle']),
        _ref(2, 20, ['only ref of its image']),
        _ref(3, 30, ['train ref'], split='train'),
        _ref(3, 31, ['other train ref'], split='train'),
    ]
    before = {r['ref_id']: [s['sent'] for s in r['sentences']] for r in refs}
    assert demo.swap_expressions(refs, 'val') == 4
    after = {r['ref_id']: [s['sent'] for s in r['sentences']] for r in refs}
    assert after[10] == before[11] and after[11] == before[12]
    assert after[12] == before[10]
    for ref in refs:  # ids travel with their sentences
        assert ref['sent_ids'] == [s['sent_id'] for s in ref['sentences']]
    for ref_id in (20, 30, 31):  # single-ref image, other split: untouched
        assert after[ref_id] == before[ref_id]


def test_expression_kinds_read_the_refs(tmp_path):
    refs = [_ref(1, 10, ['red circle', 'the red one']),
            _ref(1, 11, ['left triangle'])]
    for ref, kinds in zip(refs, [['colour+shape', 'colour'], ['left/right']]):
        for sent, kind in zip(ref['sentences'], kinds):
            sent['kind'] = kind
    path = tmp_path / 'refs.p'
    path.write_bytes(pickle.dumps(refs))
    assert demo.sentence_kinds(load_refs(str(path)), str(path)) == {
        100: 'colour+shape', 101: 'colour', 110: 'left/right'}
    del refs[1]['sentences'][0]['kind']
    path.write_bytes(pickle.dumps(refs))
    with pytest.raises(ValueError, match=r'refs\.p: sentence 110 of ref 11 has no "kind"'):
        demo.sentence_kinds(load_refs(str(path)), str(path))


def test_breakdown_is_per_kind_oiou_and_miou(tmp_path):
    records = [
        dict(sent_id=1, text='red object', I=90, U=100, IoU=0.9),
        dict(sent_id=2, text='blue thing', I=10, U=300, IoU=10 / 300),
        dict(sent_id=3, text='left circle', I=0, U=50, IoU=0.0),
    ]
    path = tmp_path / 'records.json'
    path.write_text(json.dumps(dict(records=records)))  # RISMetric's out_file
    kinds = demo.breakdown_by_kind(
        str(path), {1: 'colour', 2: 'colour', 3: 'left/right', 4: 'shape'})
    assert list(kinds) == ['colour', 'left/right']  # the generator's order
    colour = kinds['colour']
    assert colour['expressions'] == 2
    assert colour['oIoU'] == pytest.approx(100 * 100 / 400)
    assert colour['mIoU'] == pytest.approx(100 * (0.9 + 10 / 300) / 2)
    assert kinds['left/right'] == dict(expressions=1, mIoU=0.0, oIoU=0.0)
    with pytest.raises(KeyError, match='sent_id 3 has no expression kind'):
        demo.breakdown_by_kind(str(path), {1: 'colour', 2: 'colour'})


def test_breakdown_by_form_is_summarize_gres_per_form(tmp_path):
    records = [  # GRESMetric's out_file records
        dict(sent_id=1, I=0, U=0, IoU=1.0, no_target=True, pred_no_target=True),
        dict(sent_id=2, I=0, U=40, IoU=0.0, no_target=True, pred_no_target=False),
        dict(sent_id=3, I=30, U=60, IoU=0.5, no_target=False, pred_no_target=False),
        dict(sent_id=4, I=80, U=100, IoU=0.8, no_target=False, pred_no_target=False),
    ]
    path = tmp_path / 'records.json'
    path.write_text(json.dumps(dict(records=records)))
    forms = demo.breakdown_by_form(
        str(path), {1: 'no-target', 2: 'no-target', 3: 'multi', 4: 'single'})
    assert list(forms) == ['single', 'multi', 'no-target']  # the forms' order
    assert forms['no-target']['expressions'] == 2
    assert forms['no-target']['N-acc'] == pytest.approx(50.0)
    assert forms['multi']['gIoU'] == pytest.approx(50.0)
    assert forms['single']['cIoU'] == pytest.approx(80.0)


@pytest.mark.parametrize('kind', ['refcoco', 'grefcoco'])
def test_ensure_dataset_regenerates_another_generator_version(
        tmp_path, monkeypatch, kind):
    """A synthetic set written by another generator version (an older
    world) is regenerated; the current one is kept."""
    if kind == 'refcoco':
        ensure, maker, current = (demo.ensure_refcoco, 'make_synthetic_refcoco',
                                  demo.GENERATOR_VERSION)
        refs_file = tmp_path / 'refcoco' / 'refs(unc).p'
    else:
        ensure, maker, current = (demo.ensure_grefcoco, 'make_synthetic_grefcoco',
                                  demo.GRES_GENERATOR_VERSION)
        refs_file = tmp_path / demo.GREFS_FILE
    calls = []
    monkeypatch.setattr(demo, maker, calls.append)
    ensure(str(tmp_path))  # nothing there
    assert calls == [str(tmp_path)]
    refs_file.parent.mkdir(parents=True, exist_ok=True)
    refs_file.write_bytes(pickle.dumps([_ref(1, 10, ['red circle'])]))
    instances = refs_file.parent / 'instances.json'
    for info, regenerated in ((dict(), True), (dict(version=current - 1), True),
                              (dict(version=current), False)):
        instances.write_text(json.dumps(dict(images=[], info=info)))
        before = len(calls)
        ensure(str(tmp_path))
        assert len(calls) - before == int(regenerated), info


@pytest.mark.parametrize('rgb,expected', [
    ((235, 205, 25), (0.0, 1.0, 1.0)),    # yellow object: cyan, not white
    ((35, 165, 55), (1.0, 0.0, 1.0)),     # green object: magenta
    ((40, 70, 215), (1.0, 1.0, 1.0)),     # blue object: white
])
def test_examples_masks_contrast_with_the_object(rgb, expected):
    import numpy as np
    image = np.full((20, 20, 3), 128, np.uint8)
    image[5:15, 5:15] = rgb
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    colour = demo.contrasting_colour(image, mask)
    assert colour == expected
    # farther from the object than any other candidate colour
    mean = np.array(rgb) / 255.0
    dist = [np.sum((np.array(c) - mean) ** 2) for c in demo.MASK_COLOURS]
    assert np.sum((np.array(colour) - mean) ** 2) == max(dist)
