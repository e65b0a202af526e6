"""tools/demo_synthetic.py (`make demo`): a short end-to-end run on the
small synthetic dataset (its steps, asda.synthetic.demo, are tested in
tests/synthetic/test_demo.py)."""
import glob
import json
import os
import os.path as osp

import pytest
from asda_test_utils import load_tool, write_config

from asda.datasets import load_refs
from asda.synthetic import demo as steps
from asda.synthetic.refer import EXPRESSION_KINDS


@pytest.fixture(scope='module')
def demo():
    return load_tool('tools/demo_synthetic.py', 'asda_demo_synthetic')


@pytest.mark.slow
def test_demo_end_to_end(demo, small_dataset, tmp_path):
    cfg = write_config(
        tmp_path / 'cfg.py', small_dataset,
        'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=2, '
        'val_interval=1)\n'
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
        assert set(steps.RIS_METRIC_KEYS) <= set(metrics)
        assert all(0 <= v <= 100 for v in metrics.values())
    # the control ran on the same images with every val expression moved
    with open(work / 'per_expression_val.json') as f:
        records = json.load(f)['records']
    control = load_refs(str(work / 'refs_control_val.p'))
    texts = {s['sent_id']: (r['ref_id'], r['image_id'])
             for r in control for s in r['sentences']}
    for rec in records:
        ref_id, image_id = texts[rec['sent_id']]
        assert image_id == rec['image_id'] and ref_id != rec['ref_id']
    assert saved['control_drop_oIoU'] == pytest.approx(
        saved['metrics']['val']['oIoU']
        - saved['metrics']['val (swapped expressions)']['oIoU'])
    kinds = saved['val_by_expression_kind']
    assert sum(k['expressions'] for k in kinds.values()) == len(records)
    assert set(kinds) <= set(EXPRESSION_KINDS)
    assert osp.getsize(work / 'examples.png') > 0
    assert saved['seconds_total'] >= saved['seconds_train'] > 0
    # training validated nothing (the config asks for val after every
    # iteration): the demo evaluates val itself
    logs = []
    for path in glob.glob(str(work / '*' / '*.log')):  # training's, then each evaluation's
        with open(path) as f:
            logs.append(f.read())
    training = [log for log in logs if 'Saving checkpoint at 2 iterations' in log]
    assert len(training) == 1 and 'Iter(val)' not in training[0]
    # a rerun keeps the finished training (resuming it has nothing to do)
    mtime = os.stat(work / 'iter_2.pth').st_mtime_ns
    args = demo.parse_args(['--config', cfg, '--work-dir', str(work),
                            '--data-root', small_dataset])
    assert steps.train(steps.load_cfg(args.config, args.work_dir, args.data_root),
                       str(work)) == str(work / 'iter_2.pth')
    assert os.stat(work / 'iter_2.pth').st_mtime_ns == mtime




def _relative_demo_setup(small_dataset, tmp_path, monkeypatch):
    """A config on the small dataset, a random checkpoint in ``work`` and
    the current directory at ``tmp_path``: work dir and data root are
    given relative to it, as ``make demo DEMO_ARGS="--work-dir
    work_dirs/x"`` gives them."""
    from asda_test_utils import save_random_checkpoint
    cfg = write_config(tmp_path / 'cfg.py', small_dataset,
                       'experiment_name = "demo_relative"\n')
    os.symlink(small_dataset, tmp_path / 'data')
    (tmp_path / 'work').mkdir()
    save_random_checkpoint(tmp_path / 'work' / 'epoch_1.pth', cfg, seed=4)
    monkeypatch.chdir(tmp_path)
    return cfg


def test_demo_with_a_relative_work_dir(demo, small_dataset, tmp_path, monkeypatch):
    """Every step finds what an earlier one wrote under a relative work dir
    (the control's refs file among them: it is read back by a dataset whose
    data root is elsewhere)."""
    cfg = _relative_demo_setup(small_dataset, tmp_path, monkeypatch)
    summary = demo.main(['--config', cfg, '--work-dir', 'work', '--data-root', 'data',
                         '--splits', 'val', '--num-examples', '1', '--skip-train'])
    work = tmp_path / 'work'
    assert summary['checkpoint'] == str(work / 'epoch_1.pth')
    assert set(summary['metrics']) == {'val', 'val (swapped expressions)'}
    assert osp.isfile(work / 'refs_control_val.p')
    assert osp.isfile(work / 'metrics.json') and osp.isfile(work / 'examples.png')


def test_demo_checks_later_steps_before_training(demo, small_dataset, tmp_path,
                                                 monkeypatch):
    """A split the refs file lacks stops the demo before training, naming
    it, instead of after."""
    cfg = _relative_demo_setup(small_dataset, tmp_path, monkeypatch)

    def no_training(*args, **kwargs):
        raise AssertionError('training started before the checks')

    monkeypatch.setattr(steps.ASDARunner, 'from_cfg', no_training)
    with pytest.raises(ValueError, match=r"--splits: .*refs\(unc\)\.p has no split "
                       r"'testC' \(it has"):
        demo.main(['--config', cfg, '--work-dir', 'work', '--data-root', 'data',
                   '--splits', 'val', 'testC'])


def test_examples_picture_of_a_split_smaller_than_asked(small_dataset, tmp_path):
    """--num-examples above the test split's size draws every sample of it
    (a split of 4,000 images or of one both end with a picture)."""
    from asda_test_utils import save_random_checkpoint
    cfg = write_config(tmp_path / 'cfg.py', small_dataset,
                       'experiment_name = "demo_examples"\n')
    save_random_checkpoint(tmp_path / 'model.pth', cfg, seed=4)
    loaded = steps.load_cfg(cfg, str(tmp_path / 'work'), small_dataset)
    model = steps.trained_model(loaded, str(tmp_path / 'model.pth'))
    out = tmp_path / 'examples.png'
    steps.draw_examples(loaded, model, str(out), 1000)
    from mmseg.registry import DATASETS
    samples = len(DATASETS.build(loaded.test_dataloader.dataset))
    import matplotlib.pyplot as plt
    height = plt.imread(str(out)).shape[0]
    one = tmp_path / 'one.png'
    steps.draw_examples(loaded, model, str(one), 1)
    assert height == pytest.approx(samples * plt.imread(str(one)).shape[0], rel=0.05)
