"""tools/test.py --split all / a list of splits (one table; every missing
split named before any evaluation) and --protocol original / square / both
(LAVT's 480 x 480 scoring beside the original-size one)."""
import json
import pickle
import shutil

import pytest
import torch
from asda_test_utils import load_tool, save_random_checkpoint, write_config

from asda.evaluation import RISMetric

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def setup(tool_dataset, tmp_path_factory):
    work = tmp_path_factory.mktemp('eval_options')
    cfg = write_config(work / 'cfg.py', tool_dataset)
    ckpt = work / 'model.pth'
    save_random_checkpoint(ckpt, cfg, seed=3)
    return cfg, str(ckpt), load_tool('tools/test.py', 'asda_test_tool_eval')


def _expressions(root, split):
    with open(f'{root}/refcoco/refs(unc).p', 'rb') as f:
        refs = pickle.load(f)
    return sum(len(r['sentences']) for r in refs if r['split'] == split)


def test_split_all_evaluates_every_split_in_one_table(setup, tool_dataset,
                                                      tmp_path, capsys):
    cfg, ckpt, tool = setup
    out = tmp_path / 'per_expression.json'
    results = tool.main([cfg, ckpt, '--split', 'all', '--out', str(out),
                         '--work-dir', str(tmp_path / 'all')])
    assert list(results) == ['val', 'testA', 'testB']
    for split in results:
        records = json.loads((tmp_path / f'per_expression.{split}.json').read_text())
        assert records['evaluated'] == _expressions(tool_dataset, split)
    table = capsys.readouterr().out.split('| split |')[-1]  # the final table
    rows = [line for line in table.splitlines() if line.startswith('|')]
    assert [r.split('|')[1].strip() for r in rows] == ['val', 'testA', 'testB']
    assert f"{results['val']['oIoU']:.2f}" in rows[0]
    # the same figures as a single-split run
    single = tool.main([cfg, ckpt, '--split', 'testB', '--work-dir',
                        str(tmp_path / 'single')])
    for key, value in single.items():
        assert results['testB'][key] == pytest.approx(value)


def test_protocols(setup, tmp_path):
    cfg, ckpt, tool = setup
    run = [cfg, ckpt, '--split', 'val']
    original = tool.main(run + ['--work-dir', str(tmp_path / 'o')])
    square = tool.main(run + ['--protocol', 'square', '--work-dir',
                              str(tmp_path / 's')])
    both = tool.main(run + ['--protocol', 'both', '--score-size', '480',
                            '--work-dir', str(tmp_path / 'b')])
    for key in ('oIoU', 'mIoU', 'Pr@0.5'):
        assert both[key] == pytest.approx(original[key])
        assert both[f'sq480/{key}'] == pytest.approx(square[key])
    with pytest.raises(SystemExit):
        tool.parse_args(run + ['--score-size', '0'])


def _sample(pred, gt):
    return dict(pred_sem_seg=dict(data=torch.as_tensor(pred)[None]),
                gt_sem_seg=dict(data=torch.as_tensor(gt)[None]),
                metainfo=dict(ref_id=1, sent_id=1))


def test_square_protocol_weighs_every_image_alike():
    """Original size: a large image dominates oIoU by its pixel count; at
    480 x 480 (LAVT / ReLA) every image has the same number of pixels, and
    counts by the share of the image its masks cover."""
    small_gt = torch.zeros(10, 10, dtype=torch.uint8)
    small_gt[:, :5] = 1
    small_pred = 1 - small_gt  # IoU 0
    big = torch.zeros(100, 200, dtype=torch.uint8)
    big[20:80, 50:150] = 1  # IoU 1
    results = {}
    for size in (None, 480):
        metric = RISMetric(score_size=size)
        metric.process({}, [_sample(small_pred, small_gt), _sample(big, big)])
        results[size] = metric.compute_metrics(metric.results)
    assert results[None]['oIoU'] == pytest.approx(100 * 6000 / (6000 + 100))
    # small: U = the whole 480 x 480; big: 60% x 50% of it
    u_small, u_big = 480 * 480, 288 * 240
    assert results[480]['oIoU'] == pytest.approx(100 * u_big / (u_small + u_big))
    assert results[None]['mIoU'] == results[480]['mIoU'] == pytest.approx(50.0)
    # the square protocol scores the resized maps: 480 x 480 pixels each
    metric = RISMetric(score_size=480)
    metric.process({}, [_sample(big, big)])
    assert metric.results[0]['U'] == metric.results[0]['I'] == 288 * 240
    with pytest.raises(ValueError, match='score_size'):
        RISMetric(score_size=0)


@pytest.fixture
def resplit(tool_dataset, tmp_path):
    """A copy of the dataset whose refs of the given splits are moved to
    train; returns its config."""

    def make(*moved):
        root = tmp_path / 'data'
        shutil.copytree(tool_dataset, root)
        path = root / 'refcoco' / 'refs(unc).p'
        refs = pickle.loads(path.read_bytes())
        for ref in refs:
            if ref['split'] in moved:
                ref['split'] = 'train'
        path.write_bytes(pickle.dumps(refs))
        return write_config(tmp_path / 'cfg.py', str(root))

    return make


def test_split_all_without_evaluation_splits_fails(setup, resplit, tmp_path):
    _, ckpt, tool = setup
    cfg = resplit('val', 'testA', 'testB')
    with pytest.raises(ValueError, match=r"no evaluation split \(it has "
                       r"train\): nothing to evaluate"):
        tool.main([cfg, ckpt, '--split', 'all', '--work-dir',
                   str(tmp_path / 'w')])


def test_split_all_names_the_missing_splits_before_evaluating(setup, resplit,
                                                              tmp_path):
    _, ckpt, tool = setup
    cfg = resplit('testB')
    out = tmp_path / 'out' / 'records.json'
    with pytest.raises(ValueError, match=r"lacks split\(s\) testB of the unc "
                       r"splits \(val, testA, testB\)") as err:
        tool.main([cfg, ckpt, '--split', 'all', '--out', str(out),
                   '--work-dir', str(tmp_path / 'w')])
    assert '--split val,testA' in str(err.value)  # how to run on the rest
    assert not out.parent.exists()  # nothing was evaluated
    # listed explicitly, the splits present are evaluated in one table
    results = tool.main([cfg, ckpt, '--split', 'val,testA', '--work-dir',
                         str(tmp_path / 'w')])
    assert list(results) == ['val', 'testA']
    with pytest.raises(ValueError, match=r"--split val,testB: .* has no split "
                       r"testB \(it has train, val, testA\)"):
        tool.main([cfg, ckpt, '--split', 'val,testB', '--work-dir',
                   str(tmp_path / 'w')])
