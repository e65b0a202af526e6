"""End-to-end runs of tools/train.py, tools/test.py and tools/dist_train.sh
on the real ASDA model with the tiny CLIP (the demo config)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from asda_test_utils import ROOT, load_tool, write_config

import asda  # noqa: F401  (allow-lists mmengine checkpoint types)

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def train_tool():
    return load_tool('tools/train.py', 'asda_train_tool')


@pytest.fixture(scope='module')
def test_tool():
    return load_tool('tools/test.py', 'asda_test_tool')


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_train_then_test_with_checkpoint(tool_dataset, tmp_path, train_tool,
                                          test_tool):
    cfg = write_config(
        tmp_path / 'cfg.py', tool_dataset,
        'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=3, '
        'val_interval=100)\n'
        'param_scheduler = None\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=3))\n'
        'log_processor = dict(by_epoch=False)\n'
        'experiment_name = "train_then_test"\n')
    work = tmp_path / 'work'
    runner = train_tool.main([cfg, '--work-dir', str(work)])
    assert runner.iter == 3
    ckpt = work / 'iter_3.pth'
    assert ckpt.exists()

    out = tmp_path / 'per_expression.json'
    metrics = test_tool.main([
        cfg, str(ckpt), '--work-dir', str(tmp_path / 'test'), '--out',
        str(out), '--split', 'testA', '--cfg-options',
        'experiment_name=test_with_checkpoint'
    ])
    for key in ('oIoU', 'mIoU', 'Pr@0.5', 'Pr@0.6', 'Pr@0.7', 'Pr@0.8',
                'Pr@0.9'):
        assert 0.0 <= metrics[key] <= 100.0
    records = json.loads(out.read_text())
    if isinstance(records, dict):
        records = records.get('records', records.get('results'))
    import pickle
    with open(osp.join(tool_dataset, 'refcoco', 'refs(unc).p'), 'rb') as f:
        refs = pickle.load(f)
    num_test_a = sum(len(r['sentences']) for r in refs if r['split'] == 'testA')
    assert len(records) == num_test_a
    ious = [r['IoU'] for r in records]
    assert abs(100 * sum(ious) / len(ious) - metrics['mIoU']) < 1e-6


def test_resume_matches_uninterrupted_run(tool_dataset, tmp_path, train_tool):
    # The schedule is fixed at 2 epochs; the interrupted run stops after 1.
    extra = ('max_epochs = 2\n'
             'param_scheduler = [dict(type="CosineAnnealingLR", by_epoch=True,'
             ' begin=0, end=2, eta_min=1e-5, convert_to_iter_based=True)]\n'
             'train_cfg = dict(max_epochs=2, val_interval=100)\n'
             'default_hooks = dict(checkpoint=dict(interval=1, '
             'max_keep_ckpts=3))\n')
    cfg = write_config(tmp_path / 'cfg.py', tool_dataset, extra)
    full, part = tmp_path / 'full', tmp_path / 'part'
    train_tool.main([cfg, '--work-dir', str(full), '--cfg-options',
                     'experiment_name=full'])
    first = train_tool.main([cfg, '--work-dir', str(part), '--cfg-options',
                             'train_cfg.max_epochs=1',
                             'experiment_name=part1'])
    assert first.epoch == 1 and not (part / 'epoch_2.pth').exists()
    resumed = train_tool.main([cfg, '--work-dir', str(part), '--resume',
                               '--cfg-options', 'experiment_name=part2'])
    assert resumed.epoch == 2
    a, b = _state(full / 'epoch_2.pth'), _state(part / 'epoch_2.pth')
    assert _max_diff(a, b) < 1e-6
    # and training moved the weights between the two epochs
    assert _max_diff(_state(part / 'epoch_1.pth'), b) > 1e-4


def test_amp_on_cpu_trains_with_bf16_autocast(tool_dataset, tmp_path,
                                              train_tool):
    from mmengine.runner import Runner

    cfg_file = write_config(
        tmp_path / 'cfg.py', tool_dataset,
        'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=2, '
        'val_interval=100)\n'
        'param_scheduler = None\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))\n'
        'log_processor = dict(by_epoch=False)\n'
        'experiment_name = "amp"\n')
    args = train_tool.parse_args(
        [cfg_file, '--amp', '--work-dir', str(tmp_path / 'work')])
    cfg = train_tool.build_cfg(args)
    assert cfg.optim_wrapper.type == 'CPUAutocastOptimWrapper'
    runner = Runner.from_cfg(cfg)
    seen, head_dtypes = [], []

    def record_autocast(module, inputs, output):
        if module.training:
            seen.append((torch.is_autocast_enabled('cpu'),
                         torch.get_autocast_dtype('cpu')))

    def record_dtype(module, inputs, output):
        if module.training:
            head_dtypes.append(output.dtype)

    runner.model.backbone.register_forward_hook(record_autocast)
    # (the head's forward is called directly by its loss(); hook a conv in it)
    head_conv = next(m for m in runner.model.decode_head.modules()
                     if isinstance(m, torch.nn.Conv2d))
    head_conv.register_forward_hook(record_dtype)
    runner.train()
    # both training steps ran under bf16 autocast (validation does not)
    assert seen == [(True, torch.bfloat16)] * 2
    assert head_dtypes == [torch.bfloat16] * 2
    assert runner.iter == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert loss == loss and loss < float('inf')  # finite


@pytest.mark.dist
def test_dist_train_two_cpu_processes_match_one(tool_dataset, tmp_path):
    """One DDP step over 2 ranks == one single-process step on the union of
    their batches (SGD, so the update is the gradient itself)."""
    extra = (
        'custom_imports = dict(imports=["asda", "record_batches"], '
        'allow_failed_imports=False)\n'
        'custom_hooks = [dict(type="RecordBatchesHook")]\n'
        'optim_wrapper = dict(_delete_=True, type="OptimWrapper", '
        'optimizer=dict(type="SGD", lr=1.0))\n'
        'param_scheduler = None\n'
        'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", '
        'max_iters=1)\n'
        'val_cfg = None\nval_dataloader = None\nval_evaluator = None\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1, '
        'save_best=None))\n'
        'log_processor = dict(by_epoch=False)\n')
    cfg = write_config(tmp_path / 'cfg.py', tool_dataset, extra)
    env = dict(os.environ,
               PYTHONPATH=osp.dirname(__file__),
               PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(29500 + os.getpid() % 1000))
    dist_dir, single_dir = tmp_path / 'dist', tmp_path / 'single'
    subprocess.run([
        'bash', osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '2',
        '--work-dir', str(dist_dir),
        '--cfg-options', 'train_dataloader.batch_size=2'
    ], env=env, check=True, cwd=ROOT, timeout=300)
    subprocess.run([
        sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg,
        '--work-dir', str(single_dir),
        '--cfg-options', 'train_dataloader.batch_size=4'
    ], env=env, check=True, cwd=ROOT, timeout=300)

    def batch(work, rank):
        with open(work / f'batch_rank{rank}_iter0.json') as f:
            return [tuple(x) for x in json.load(f)]

    rank0, rank1 = batch(dist_dir, 0), batch(dist_dir, 1)
    assert len(rank0) == len(rank1) == 2
    assert not set(rank0) & set(rank1), 'ranks saw overlapping samples'
    assert sorted(rank0 + rank1) == sorted(batch(single_dir, 0))

    ddp, single = _state(dist_dir / 'iter_1.pth'), _state(single_dir /
                                                          'iter_1.pth')
    assert _max_diff(ddp, single) < 1e-5
    # the step really moved the weights (the comparison is not vacuous)
    init = torch.load(dist_dir / 'init_state.pth', weights_only=True)
    assert _max_diff(init, single) > 1e-3
    assert _max_diff(init, ddp) > 1e-3
