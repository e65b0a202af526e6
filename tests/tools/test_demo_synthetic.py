"""tools/demo_synthetic.py (`make demo`): the control swap, the per-kind
breakdown, and a short end-to-end run on the small synthetic dataset."""
import json
import os.path as osp

import pytest
from asda_test_utils import load_tool, write_config


@pytest.fixture(scope='module')
def demo():
    return load_tool('tools/demo_synthetic.py', 'asda_demo_synthetic')


def _info(image_id, ref_id, sent_id, text):
    return dict(image_id=image_id, ref_id=ref_id, sent_id=sent_id, text=text)


def test_swap_gives_each_sample_another_refs_expression(demo):
    data = [
        _info(1, 10, 100, 'red circle'),
        _info(1, 10, 101, 'the red one'),
        _info(1, 11, 102, 'blue square'),
        _info(1, 12, 103, 'left triangle'),
        _info(2, 20, 200, 'only ref of its image'),
    ]
    texts_of = {}
    for info in data:
        texts_of.setdefault(info['ref_id'], set()).add(info['text'])
    changed = demo.swap_expressions(data)
    assert changed == 4
    for info in data[:4]:  # image 1: an expression of one of its other refs
        others = set().union(*(texts_of[r] for r in (10, 11, 12)
                               if r != info['ref_id']))
        assert info['text'] in others
    assert data[4]['text'] == 'only ref of its image'


@pytest.mark.parametrize('text, kind', [
    ('the red object', 'colour words only'),
    ('Purple thing', 'colour words only'),
    ('the hexagon', 'shape words'),
    ('green diamond', 'shape words'),
    ('the circle on the left', 'left/right'),
    ('rightmost object', 'left/right'),
    ('the bigger square', 'top/bottom/size'),
    ('upper red shape', 'top/bottom/size'),
])
def test_expression_kind(demo, text, kind):
    assert demo.expression_kind(text) == kind


def test_breakdown_is_per_kind_oiou_and_miou(demo, tmp_path):
    records = [
        dict(text='red object', I=90, U=100, IoU=0.9),
        dict(text='blue thing', I=10, U=300, IoU=10 / 300),
        dict(text='left circle', I=0, U=50, IoU=0.0),
    ]
    path = tmp_path / 'records.json'
    path.write_text(json.dumps(records))
    kinds = demo.breakdown_by_kind(str(path))
    assert set(kinds) == {'colour words only', 'left/right'}
    colour = kinds['colour words only']
    assert colour['expressions'] == 2
    assert colour['oIoU'] == pytest.approx(100 * 100 / 400)
    assert colour['mIoU'] == pytest.approx(100 * (0.9 + 10 / 300) / 2)
    assert kinds['left/right'] == dict(expressions=1, mIoU=0.0, oIoU=0.0)


@pytest.mark.slow
def test_demo_end_to_end(demo, small_dataset, tmp_path):
    cfg = write_config(
        tmp_path / 'cfg.py', small_dataset,
        'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=2, '
        'val_interval=100)\n'
        'param_scheduler = None\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))\n'
        'log_processor = dict(by_epoch=False)\n'
        'experiment_name = "demo_end_to_end"\n')
    work = tmp_path / 'work'
    summary = demo.main(['--config', cfg, '--work-dir', str(work),
                         '--data-root', small_dataset, '--splits', 'val',
                         'testA', '--num-examples', '2'])
    with open(work / 'metrics.json') as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(summary))
    assert saved['checkpoint'] == str(work / 'iter_2.pth')
    assert set(saved['metrics']) == {'val', 'testA', 'val (swapped expressions)'}
    for metrics in saved['metrics'].values():
        assert set(demo.METRIC_KEYS) <= set(metrics)
        assert all(0 <= v <= 100 for v in metrics.values())
    assert saved['control_drop_oIoU'] == pytest.approx(
        saved['metrics']['val']['oIoU']
        - saved['metrics']['val (swapped expressions)']['oIoU'])
    with open(work / 'per_expression_val.json') as f:
        records = json.load(f)
    kinds = saved['val_by_expression_kind']
    assert sum(k['expressions'] for k in kinds.values()) == len(records)
    assert osp.getsize(work / 'examples.png') > 0
    assert saved['seconds_total'] >= saved['seconds_train'] > 0
