"""RISMetric on hand-computed cases."""
import json
import os
from itertools import chain, zip_longest

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

import asda  # noqa: F401
from asda.evaluation import RISMetric


def _mask(h, w, box=None):
    m = torch.zeros(1, h, w, dtype=torch.int64)
    if box is not None:
        y0, y1, x0, x1 = box
        m[0, y0:y1, x0:x1] = 1
    return m


def _sample(pred, gt, i=0, text='the cat'):
    """A data sample as the Evaluator hands it to process() (a dict)."""
    s = SegDataSample(metainfo=dict(ref_id=100 + i, sent_id=200 + i,
                                    ann_id=300 + i, image_id=400 + i,
                                    text=text, img_path=f'img{i}.jpg'))
    s.pred_sem_seg = PixelData(data=pred)
    s.gt_sem_seg = PixelData(data=gt)
    return s


def _run(metric, pairs):
    samples = [_sample(p, g, i).to_dict() for i, (p, g) in enumerate(pairs)]
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_strict_threshold_at_exactly_half():
    # pred 2 pixels, gt 1 of them: I=1, U=2, IoU = 0.5 exactly.
    pred = _mask(4, 4, (0, 1, 0, 2))
    gt = _mask(4, 4, (0, 1, 0, 1))
    m = RISMetric()
    res = _run(m, [(pred, gt)])
    assert m.results[0]['I'] == 1 and m.results[0]['U'] == 2
    assert res['mIoU'] == pytest.approx(50.0)
    assert res['oIoU'] == pytest.approx(50.0)
    assert res['Pr@0.5'] == 0.0  # strictly greater than 0.5
    # 3 of 5 pixels: IoU = 0.6 exactly -> counts for 0.5, not for 0.6.
    pred = _mask(1, 5, (0, 1, 0, 5))
    gt = _mask(1, 5, (0, 1, 0, 3))
    res = _run(RISMetric(), [(pred, gt)])
    assert res['Pr@0.5'] == 100.0 and res['Pr@0.6'] == 0.0


def test_empty_prediction_both_empty_and_disjoint():
    full = _mask(3, 3, (0, 3, 0, 3))
    empty = _mask(3, 3)
    m = RISMetric()
    res = _run(m, [
        (empty, full),  # empty prediction: IoU 0, I=0, U=9
        (empty, empty),  # both empty: IoU 1, I=U=0
        (_mask(3, 3, (0, 1, 0, 1)), _mask(3, 3, (2, 3, 2, 3))),  # disjoint
    ])
    assert [(r['I'], r['U'], r['iou']) for r in m.results] == [
        (0, 9, 0.0), (0, 0, 1.0), (0, 2, 0.0)]
    assert res['mIoU'] == pytest.approx(100 / 3)
    assert res['oIoU'] == pytest.approx(0.0)
    assert res['Pr@0.9'] == pytest.approx(100 / 3)
    assert list(res) == ['oIoU', 'mIoU', 'Pr@0.5', 'Pr@0.6', 'Pr@0.7',
                         'Pr@0.8', 'Pr@0.9']


def test_oiou_differs_from_miou():
    # Small object half found (1/2), big object 90/100.
    small = (_mask(10, 10, (0, 1, 0, 2)), _mask(10, 10, (0, 1, 0, 1)))
    big_gt = _mask(10, 10, (0, 10, 0, 10))
    big_pred = big_gt.clone()
    big_pred[0, 9, :] = 0  # 90 of 100
    res = _run(RISMetric(), [small, (big_pred, big_gt)])
    assert res['mIoU'] == pytest.approx(100 * (0.5 + 0.9) / 2)
    assert res['oIoU'] == pytest.approx(100 * 91 / 102)
    assert res['Pr@0.5'] == 50.0 and res['Pr@0.8'] == 50.0
    assert res['Pr@0.9'] == 0.0  # 0.9 is not > 0.9


def test_ignore_index_and_configurable_thresholds():
    gt = _mask(2, 4, (0, 2, 0, 2))
    gt[:, :, 3] = 255  # padding column
    pred = _mask(2, 4, (0, 2, 0, 4))  # predicts over the padding too
    m = RISMetric(iou_thrs=(0.25, 0.75))
    res = _run(m, [(pred, gt)])
    assert (m.results[0]['I'], m.results[0]['U']) == (4, 6)
    assert set(res) == {'oIoU', 'mIoU', 'Pr@0.25', 'Pr@0.75'}
    assert res['Pr@0.25'] == 100.0 and res['Pr@0.75'] == 0.0
    with pytest.raises(ValueError):
        RISMetric(iou_thrs=(1.5, ))


def _pairs(n):
    g = torch.Generator().manual_seed(0)
    pairs = []
    for _ in range(n):
        pairs.append(((torch.rand(1, 6, 7, generator=g) > 0.5).long(),
                      (torch.rand(1, 6, 7, generator=g) > 0.4).long()))
    return pairs


def test_two_ranks_equal_one(tmp_path):
    pairs = _pairs(9)
    single = RISMetric(out_file=str(tmp_path / 'one.json'))
    expected = _run(single, pairs)
    # DefaultSampler without shuffle: rank r takes samples r, r + 2, ...
    ranks = [RISMetric(out_file=str(tmp_path / f'rank{r}.json'))
             for r in range(2)]
    for r, metric in enumerate(ranks):
        samples = [_sample(p, g, i).to_dict()
                   for i, (p, g) in enumerate(pairs) if i % 2 == r]
        for s in samples:  # one sample per batch
            metric.process({}, [s])
    # mmengine's collect_results: interleave the rank parts, cut to size.
    merged = [x for x in chain.from_iterable(
        zip_longest(*[m.results for m in ranks])) if x is not None]
    merged = merged[:len(pairs)]
    merged_metric = RISMetric(out_file=str(tmp_path / 'two.json'))
    got = merged_metric.compute_metrics(merged)
    assert got == pytest.approx(expected)
    with open(tmp_path / 'one.json') as f1, open(tmp_path / 'two.json') as f2:
        assert json.load(f1) == json.load(f2)
    # Only compute_metrics (rank 0) writes.
    assert not (tmp_path / 'rank0.json').exists()


def test_evaluator_with_data_elements_and_out_file(tmp_path):
    out = tmp_path / 'sub' / 'per_expression.json'
    metric = METRICS.build(dict(type='RISMetric', out_file=str(out)))
    evaluator = Evaluator(metric)
    pairs = _pairs(3)
    samples = [_sample(p, g, i, text=f'left thing {i}')
               for i, (p, g) in enumerate(pairs)]
    evaluator.process(samples[:2])
    evaluator.process(samples[2:])
    res = evaluator.evaluate(3)
    assert 0 <= res['oIoU'] <= 100
    report = json.loads(out.read_text())
    records = report['records']
    assert report['evaluated'] == report['total'] == len(records)
    assert report['skipped'] == []
    assert [r['text'] for r in records] == [f'left thing {i}'
                                            for i in range(3)]
    for i, (r, (p, g)) in enumerate(zip(records, pairs)):
        assert set(r) == {'ref_id', 'sent_id', 'ann_id', 'image_id', 'text',
                          'I', 'U', 'IoU'}
        assert (r['ref_id'], r['sent_id'], r['ann_id']) == (100 + i, 200 + i,
                                                             300 + i)
        inter = int(((p > 0) & (g == 1)).sum())
        union = int(((p > 0) | (g == 1)).sum())
        assert (r['I'], r['U']) == (inter, union)
        assert r['IoU'] == pytest.approx(inter / union)
    # Written atomically: no temporary file left beside it.
    assert os.listdir(out.parent) == [out.name]


def test_size_mismatch_names_the_sample():
    m = RISMetric()
    s = _sample(_mask(4, 4), _mask(5, 5), i=7).to_dict()
    with pytest.raises(ValueError, match='ref_id=107, sent_id=207'):
        m.process({}, [s])


def _rects(h, w, *rects):
    """A (1, h, w) mask with 1 in each (y0, y1, x0, x1) rectangle."""
    m = _mask(h, w)
    for y0, y1, x0, x1 in rects:
        m[0, y0:y1, x0:x1] = 1
    return m


def test_rec_accuracy_against_boxes_by_hand(tmp_path):
    """Box of the prediction's largest 8-connected component against the
    box of the ground-truth mask; IoU >= 0.5 is a hit; an empty prediction
    is a miss."""
    gt = _rects(12, 12, (2, 6, 3, 8))  # box [3, 2, 5, 4]
    cases = [
        # main blob [3, 2, 6, 4] (IoU 20/24) and a stray 3x3 blob that would
        # stretch the box of the whole mask to [3, 2, 9, 10] (IoU 20/90)
        (_rects(12, 12, (2, 6, 3, 9), (9, 12, 9, 12)), 20 / 24),
        (_mask(12, 12), 0.0),  # empty: a miss
        (_rects(12, 12, (2, 4, 3, 8)), 0.5),  # [3, 2, 5, 2]: exactly 0.5, a hit
        # [1, 0, 4, 4]: x overlap 3..5, y overlap 2..4: 4 of 16 + 20 - 4
        (_rects(12, 12, (0, 4, 1, 5)), 4 / 32),
    ]
    metric = RISMetric(rec=True, out_file=str(tmp_path / 'rec.json'))
    res = _run(metric, [(pred, gt) for pred, _ in cases])
    for record, (_, expected) in zip(metric.results, cases):
        assert record['box_iou'] == pytest.approx(expected)
    assert [r['pred_box'] for r in metric.results] == [
        [3, 2, 6, 4], None, [3, 2, 5, 2], [1, 0, 4, 4]]
    assert {tuple(r['gt_box']) for r in metric.results} == {(3, 2, 5, 4)}
    assert res['Acc@0.5'] == pytest.approx(50.0)
    assert res['mBoxIoU'] == pytest.approx(100 * (20 / 24 + 0.5 + 4 / 32) / 4)
    # the mask metrics are unchanged by the option
    plain = _run(RISMetric(), [(pred, gt) for pred, _ in cases])
    assert {k: res[k] for k in plain} == plain
    assert set(res) - set(plain) == {'Acc@0.5', 'mBoxIoU'}
    records = json.loads((tmp_path / 'rec.json').read_text())['records']
    assert records[0]['pred_box'] == [3, 2, 6, 4] and records[1]['pred_box'] is None
    assert records[0]['box_iou'] == pytest.approx(20 / 24)


def test_rec_is_off_by_default_and_scores_at_the_original_size():
    assert set(_run(RISMetric(), _pairs(2))) == {
        'oIoU', 'mIoU', 'Pr@0.5', 'Pr@0.6', 'Pr@0.7', 'Pr@0.8', 'Pr@0.9'}
    gt = _rects(10, 20, (2, 6, 3, 8))
    pred = _rects(10, 20, (2, 6, 3, 9))
    metric = RISMetric(rec=True, rec_iou_thr=0.9, score_size=7)
    res = _run(metric, [(pred, gt)])
    assert metric.results[0]['gt_box'] == [3, 2, 5, 4]  # not the 7 x 7 one
    assert metric.results[0]['box_iou'] == pytest.approx(20 / 24)
    assert res['Acc@0.9'] == 0.0
    with pytest.raises(ValueError, match='rec_iou_thr'):
        RISMetric(rec=True, rec_iou_thr=0)
