"""tools/demo_synthetic_gres.py (`make demo-gres`): a short end-to-end run on
a small synthetic gRefCOCO set, and the per-form breakdown."""
import json
import math
import os.path as osp

import pytest
from asda_test_utils import ROOT, load_tool, write_config

from asda.synthetic.demo import GRES_METRIC_KEYS
from asda.synthetic.gres import make_synthetic_grefcoco
from asda.utils.atomic import finite_or_none
from asda.utils.provenance import map_leaves

GRES_CONFIG = osp.join(ROOT, 'configs/asda/asda_tiny_synthetic_gres.py')


@pytest.fixture(scope='module')
def demo_gres():
    return load_tool('tools/demo_synthetic_gres.py', 'asda_demo_synthetic_gres')


@pytest.fixture(scope='module')
def small_gres(tmp_path_factory):
    root = tmp_path_factory.mktemp('small_gres')
    make_synthetic_grefcoco(str(root), seed=4,
                            split_sizes=dict(train=12, val=4, testA=1, testB=1))
    return str(root)


def test_demo_gres_end_to_end(demo_gres, small_gres, tmp_path):
    cfg = write_config(
        tmp_path / 'cfg.py', small_gres,
        'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=2, '
        'val_interval=100)\n'
        'param_scheduler = None\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))\n'
        'log_processor = dict(by_epoch=False)\n'
        'experiment_name = "demo_gres_end_to_end"\n', base=GRES_CONFIG)
    work = tmp_path / 'work'
    summary = demo_gres.main(['--config', cfg, '--work-dir', str(work),
                              '--data-root', small_gres, '--splits', 'val',
                              '--num-examples', '2'])
    with open(work / 'metrics.json') as f:
        saved = json.load(f)
    # strict JSON: a share of nothing (N-acc of target expressions only) is null
    assert saved == map_leaves(json.loads(json.dumps(summary)), finite_or_none)
    assert saved['val_by_form']['single']['N-acc'] is None
    assert math.isnan(summary['val_by_form']['single']['N-acc'])
    assert saved['checkpoint'] == str(work / 'iter_2.pth')
    val = saved['metrics']['val']
    assert set(GRES_METRIC_KEYS) <= set(val)
    with open(work / 'per_expression_val.json') as f:
        out = json.load(f)
    records = out['records']
    # every record carries the model's no-target probability and decision
    assert all(0 <= r['no_target_score'] <= 1 for r in records)
    # the per-form figures are summarize_gres of each form's records
    forms = saved['val_by_form']
    assert set(forms) <= {'single', 'multi', 'no-target'} and 'no-target' in forms
    assert sum(f['expressions'] for f in forms.values()) == len(records)
    n_nt = sum(r['no_target'] for r in records)
    assert forms['no-target']['expressions'] == n_nt
    hit = sum(r['no_target'] and r['pred_no_target'] for r in records)
    assert val['N-acc'] == pytest.approx(100.0 * hit / n_nt)
    control = saved['text_only_control']
    assert 0 <= control['balanced_accuracy'] <= 100
    assert osp.getsize(work / 'examples.png') > 0
