"""GRESMetric and summarize_gres on hand-computed cases."""
import json
import math
import os

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

import asda  # noqa: F401
from asda.evaluation import GRESMetric, RISMetric, summarize_gres

H, W = 2, 5  # 10 pixels per mask


def _mask(pixels=()):
    """(1, H, W) 0/1 mask with the given flat pixel indices set."""
    m = torch.zeros(H * W, dtype=torch.int64)
    m[list(pixels)] = 1
    return m.view(1, H, W)


# (name, prediction, ground truth, metainfo no_target or None = not given)
# with I, U and gIoU term worked out by hand.
CASES = [
    # perfect target: I=4, U=4 -> 1
    ('perfect', _mask(range(4)), _mask(range(4)), False),
    # partial target, IoU exactly 0.7: I=7, U=10 -> counts for Pr@0.7 (>=)
    ('partial', _mask(range(7)), _mask(range(10)), False),
    # target predicted empty (no target): I=0, U=5 (its mask) -> 0
    ('missed', _mask(), _mask(range(5, 10)), None),
    # no-target predicted empty: I=0, U=0 -> 1
    ('nt-right', _mask(), _mask(), True),
    # no-target predicted with a 3-pixel mask: I=0, U=3 -> 0
    ('nt-wrong', _mask([0, 1, 9]), _mask(), None),
    # target half found: pred 2 pixels inside a 4-pixel mask: I=2, U=4 -> 0.5
    ('half', _mask([6, 7]), _mask(range(6, 10)), False),
]
I_U = [(4, 4), (7, 10), (0, 5), (0, 0), (0, 3), (2, 4)]
GT_NT = [False, False, False, True, True, False]
PRED_NT = [False, False, True, True, False, False]
# gIoU = (1 + 0.7 + 0 + 1 + 0 + 0.5) / 6; cIoU = 13 / 26;
# N-acc = 1 of 2 no-target; T-acc = 3 of 4 targets;
# Pr over the 4 targets (1, 0.7, 0, 0.5): >= 0.7: 2, >= 0.8: 1, >= 0.9: 1.
EXPECTED = {
    'gIoU': 100 * 3.2 / 6,
    'cIoU': 50.0,
    'N-acc': 50.0,
    'T-acc': 75.0,
    'Pr@0.7': 50.0,
    'Pr@0.8': 25.0,
    'Pr@0.9': 25.0,
}


def _sample(pred, gt, i=0, no_target=None, score=None, text='the cat'):
    """A data sample as the model hands it to the Evaluator."""
    meta = dict(ref_id=100 + i, sent_id=200 + i, ann_id=[300 + i, 350 + i],
                image_id=400 + i, text=text, img_path=f'img{i}.jpg')
    if no_target is not None:
        meta['no_target'] = no_target
    s = SegDataSample(metainfo=meta)
    s.pred_sem_seg = PixelData(data=pred)
    s.gt_sem_seg = PixelData(data=gt)
    if score is not None:
        s.no_target_score = score
    return s


def _samples(cases=CASES, **kwargs):
    return [_sample(p, g, i, no_target=nt, **kwargs)
            for i, (_, p, g, nt) in enumerate(cases)]


def _run(metric, samples):
    metric.process({}, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


def test_summarize_gres_hand_computed():
    records = [dict(I=i, U=u, no_target=nt, pred_no_target=pnt)
               for (i, u), nt, pnt in zip(I_U, GT_NT, PRED_NT)]
    got = summarize_gres(records)
    assert list(got) == list(EXPECTED)
    assert got == pytest.approx(EXPECTED)


def test_metric_records_and_values():
    metric = GRESMetric()
    got = _run(metric, _samples())
    assert got == pytest.approx(EXPECTED)
    assert [(r['I'], r['U']) for r in metric.results] == I_U
    assert [r['no_target'] for r in metric.results] == GT_NT
    assert [r['pred_no_target'] for r in metric.results] == PRED_NT
    assert [r['iou'] for r in metric.results] == pytest.approx(
        [1, 0.7, 0, 1, 0, 0.5])


def test_against_ris_metric_on_the_same_samples():
    ris = _run(RISMetric(iou_thrs=(0.7, )), _samples())
    # Same pixels per expression: cIoU = oIoU; every target mask is non-empty
    # (RISMetric scores both-empty 1, a no-target hit): gIoU = mIoU.
    assert ris['oIoU'] == pytest.approx(EXPECTED['cIoU'])
    assert ris['mIoU'] == pytest.approx(EXPECTED['gIoU'])
    # RISMetric: strict > (0.7 does not count), over all 6 expressions, where
    # the both-empty no-target one has IoU 1: 2 of 6.
    assert ris['Pr@0.7'] == pytest.approx(100 * 2 / 6)
    # A target expression with an empty mask, predicted empty: RISMetric 1,
    # GRESMetric 0 (a target predicted no-target).
    sample = [_sample(_mask(), _mask(), no_target=False)]
    assert _run(RISMetric(), sample)['mIoU'] == 100.0
    assert _run(GRESMetric(), sample)['gIoU'] == 0.0


def test_without_no_target_cIoU_is_oIoU_and_gIoU_is_mIoU():
    g = torch.Generator().manual_seed(0)
    samples = []
    for i in range(6):
        pred = (torch.rand(1, 6, 7, generator=g) > 0.5).long()
        gt = (torch.rand(1, 6, 7, generator=g) > 0.4).long()
        pred[0, 0, 0] = gt[0, 0, 0] = 1  # neither empty
        samples.append(_sample(pred, gt, i))
    gres = _run(GRESMetric(), samples)
    ris = _run(RISMetric(), samples)
    assert gres['cIoU'] == pytest.approx(ris['oIoU'])
    assert gres['gIoU'] == pytest.approx(ris['mIoU'])
    assert gres['T-acc'] == 100.0 and math.isnan(gres['N-acc'])


def test_nan_shares_without_a_denominator():
    only_targets = summarize_gres([dict(I=3, U=4, no_target=False,
                                        pred_no_target=False)])
    assert math.isnan(only_targets['N-acc'])
    assert only_targets['T-acc'] == 100.0 and only_targets['Pr@0.7'] == 100.0
    only_nt = summarize_gres([dict(I=0, U=0, no_target=True,
                                   pred_no_target=True)])
    assert only_nt['N-acc'] == 100.0 and only_nt['gIoU'] == 100.0
    assert only_nt['cIoU'] == 100.0  # nothing predicted, nothing to find
    assert math.isnan(only_nt['T-acc']) and math.isnan(only_nt['Pr@0.9'])
    none = summarize_gres([])
    assert all(math.isnan(v) for v in none.values())


def test_metainfo_no_target_wins_over_the_mask():
    # A target expression whose mask is empty (e.g. only crowd parts):
    # metainfo says target, so an empty prediction is a miss (0), not the
    # no-target hit an empty mask would make it.
    metric = GRESMetric()
    got = _run(metric, [_sample(_mask(), _mask(), no_target=False)])
    assert metric.results[0]['no_target'] is False
    assert got['gIoU'] == 0.0 and got['T-acc'] == 0.0
    assert math.isnan(got['N-acc'])
    # Without the metainfo, the empty mask means no target.
    got = _run(GRESMetric(), [_sample(_mask(), _mask())])
    assert got['gIoU'] == 100.0 and got['N-acc'] == 100.0


def test_bad_no_target_names_the_sample():
    with pytest.raises(ValueError, match='no_target is True.*ref_id=107'):
        _run(GRESMetric(), [_sample(_mask(), _mask([1]), i=7,
                                    no_target=True)])
    with pytest.raises(ValueError, match="no_target must be a bool, got 'yes'"):
        _run(GRESMetric(), [_sample(_mask(), _mask(), no_target='yes')])


def test_no_target_decided_at_the_original_size():
    # One pixel that nearest resizing to 2 x 2 drops: the prediction is not
    # empty, so the no-target expression counts as a miss.
    pred = torch.zeros(1, 8, 8, dtype=torch.int64)
    pred[0, 1, 1] = 1
    metric = GRESMetric(score_size=2)
    got = _run(metric, [_sample(pred, torch.zeros_like(pred), no_target=True)])
    assert metric.results[0]['pred_no_target'] is False
    assert (metric.results[0]['I'], metric.results[0]['U']) == (0, 0)
    assert got['N-acc'] == 0.0 and got['gIoU'] == 0.0


def test_evaluator_out_file(tmp_path):
    out = tmp_path / 'sub' / 'gres.json'
    evaluator = Evaluator(METRICS.build(dict(type='GRESMetric',
                                             out_file=str(out))))
    scores = [torch.tensor(0.1), None, torch.tensor(0.3), torch.tensor(0.9),
              0.4, torch.tensor(0.2)]
    samples = [
        _sample(p, g, i, no_target=nt, score=sc, text=f'expr {i}')
        for i, ((_, p, g, nt), sc) in enumerate(zip(CASES, scores))
    ]
    evaluator.process(samples[:4])
    evaluator.process(samples[4:])
    got = evaluator.evaluate(len(samples))
    assert got == pytest.approx(EXPECTED)
    report = json.loads(out.read_text())
    assert report['evaluated'] == report['total'] == len(CASES)
    assert report['skipped'] == []
    records = report['records']
    base = {'ref_id', 'sent_id', 'ann_id', 'image_id', 'text', 'I', 'U',
            'IoU', 'no_target', 'pred_no_target'}
    for i, r in enumerate(records):
        assert set(r) == (base if scores[i] is None
                          else base | {'no_target_score'})
        assert (r['ref_id'], r['sent_id'], r['ann_id'], r['image_id']) == (
            100 + i, 200 + i, [300 + i, 350 + i], 400 + i)
        assert r['text'] == f'expr {i}'
    assert [(r['I'], r['U']) for r in records] == I_U
    assert [r['no_target'] for r in records] == GT_NT
    assert [r['pred_no_target'] for r in records] == PRED_NT
    assert [r['IoU'] for r in records] == pytest.approx([1, 0.7, 0, 1, 0, 0.5])
    assert [r.get('no_target_score') for r in records] == pytest.approx(
        [0.1, None, 0.3, 0.9, 0.4, 0.2])
    # A tool recomputes the metrics from the file alone.
    assert summarize_gres(records) == pytest.approx(EXPECTED)
    assert os.listdir(out.parent) == [out.name]  # written atomically


def test_no_target_score_must_be_one_number():
    s = _sample(_mask(), _mask(), i=3, score=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r'no_target_score.*\(2,\).*ref_id=103'):
        GRESMetric().process({}, [s.to_dict()])
