"""End-to-end runs of tools/train.py, tools/test.py and tools/dist_train.sh
on the real ASDA model with the tiny CLIP (the demo config).

Tests of CPU-only paths (bf16 autocast, gloo, exact CPU results) run the
tools in a child process with the GPUs hidden, so they test the same thing
on a machine with CUDA; the ``gpu`` tests run the CUDA paths."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from asda_test_utils import ROOT, child_env, write_config

import asda  # noqa: F401  (allow-lists mmengine checkpoint types)

pytestmark = pytest.mark.slow
HERE = osp.dirname(osp.abspath(__file__))  # record_batches, record_run


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _start(args, cpu_only=True, **env) -> subprocess.Popen:
    """Start ``args`` in a child process from the repository root (GPUs
    hidden when ``cpu_only``)."""
    proc = subprocess.Popen(
        [str(a) for a in args], env=child_env(cpu_only, paths=[HERE], **env),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.args_text = ' '.join(map(str, args))
    return proc


def _wait(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    """Wait for a child of :func:`_start`; its output if it fails."""
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, (f'{proc.args_text} failed:\n'
                                  f'{stdout[-3000:]}\n{stderr[-5000:]}')
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _run(args, cpu_only=True, **env) -> subprocess.CompletedProcess:
    """Run ``args`` in a child process (:func:`_start`) and wait for it."""
    return _wait(_start(args, cpu_only, **env))


def _train(*args, cpu_only=True):
    return _run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), *args],
                cpu_only=cpu_only)


def _record(work, rank=0):
    """What RecordRunHook wrote (tests/tools/record_run.py)."""
    with open(work / f'run_rank{rank}.json') as f:
        return json.load(f)


_RECORD_RUN = ('custom_imports = dict(imports=["asda", "record_run"], '
               'allow_failed_imports=False)\n'
               'custom_hooks = [dict(type="RecordRunHook")]\n')


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


def _amp_run(tool_dataset, tmp_path, cpu_only, iters):
    """``tools/train.py --amp`` for ``iters`` steps on 4 fixed samples."""
    cfg = write_config(
        tmp_path / 'cfg.py', tool_dataset, _RECORD_RUN
        + f'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", '
        f'max_iters={iters}, val_interval=100)\n'
        'param_scheduler = None\n'
        f'default_hooks = dict(checkpoint=dict(by_epoch=False, '
        f'interval={iters}))\n'
        'log_processor = dict(by_epoch=False)\n')
    work = tmp_path / 'work'
    proc = _train(cfg, '--amp', '--work-dir', work, '--cfg-options',
                  'train_dataloader.dataset.indices=4', cpu_only=cpu_only)
    assert (work / f'iter_{iters}.pth').exists()
    return _record(work), proc.stdout + proc.stderr


def test_amp_on_cpu_trains_with_bf16_autocast(tool_dataset, tmp_path):
    record, log = _amp_run(tool_dataset, tmp_path, cpu_only=True, iters=2)
    assert 'mixed precision: CPUAutocastOptimWrapper' in log
    assert record['optim_wrapper'] == 'CPUAutocastOptimWrapper'
    assert record['device'] == 'cpu'
    # both training steps ran under bf16 autocast (validation does not)
    assert record['autocast'] == [['cpu', True, 'torch.bfloat16']] * 2
    assert record['head_dtype'] == ['torch.bfloat16'] * 2
    assert all(abs(v) < float('inf') for v in record['loss'])  # finite


@pytest.mark.gpu
def test_amp_on_gpu_fp16_steps_lower_the_loss(tool_dataset, tmp_path):
    """mmengine's AmpOptimWrapper (fp16 autocast, dynamic loss scale): the
    loss on the same 4 samples falls. (A step whose scaled gradients
    overflow is skipped, so a few steps are taken.)"""
    record, log = _amp_run(tool_dataset, tmp_path, cpu_only=False, iters=4)
    assert 'mixed precision: AmpOptimWrapper' in log
    assert record['optim_wrapper'] == 'AmpOptimWrapper'
    assert record['device'].startswith('cuda')
    assert record['autocast'] == [['cuda', True, 'torch.float16']] * 4
    assert record['head_dtype'] == ['torch.float16'] * 4
    losses = record['loss']
    assert all(abs(v) < float('inf') for v in losses), losses
    assert losses[-1] < losses[0], losses


@pytest.mark.gpu
def test_dist_train_one_gpu_runs_with_nccl(tool_dataset, tmp_path):
    cfg = write_config(
        tmp_path / 'cfg.py', tool_dataset, _RECORD_RUN
        + 'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", '
        'max_iters=2, val_interval=100)\n'
        'param_scheduler = None\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))\n'
        'log_processor = dict(by_epoch=False)\n')
    work = tmp_path / 'work'
    _run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '1',
          '--work-dir', work], cpu_only=False, PYTHON=sys.executable,
         PORT=str(29500 + os.getpid() % 1000))
    record = _record(work)
    assert record['backend'] == 'nccl' and record['world_size'] == 1
    assert record['device'].startswith('cuda')
    assert len(record['loss']) == 2
    assert all(abs(v) < float('inf') for v in record['loss'])
    assert (work / 'iter_2.pth').exists()


@pytest.mark.dist
def test_dist_train_two_cpu_processes_match_one(tool_dataset, tmp_path):
    """One DDP step over 2 ranks == one single-process step on the union of
    their batches (SGD, so the update is the gradient itself). In float64
    (tests/tools/float64_model.py): float32's rounding of the gradients'
    long sums depends on the batching, by up to ~1e-3 here."""
    extra = (
        'custom_imports = dict(imports=["asda", "record_batches", '
        '"record_run", "float64_model"], allow_failed_imports=False)\n'
        'model = dict(type="Float64Segmentor")\n'
        'custom_hooks = [dict(type="RecordBatchesHook"), '
        'dict(type="RecordRunHook")]\n'
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
    # gloo on the CPU whatever the hardware: GPUs hidden
    env = dict(PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(29500 + os.getpid() % 1000))
    dist_dir, single_dir = tmp_path / 'dist', tmp_path / 'single'
    # the single-process run at the same time as the two ranks
    single = _start([sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg,
                     '--work-dir', single_dir,
                     '--cfg-options', 'train_dataloader.batch_size=4'], **env)
    _run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '2',
          '--work-dir', dist_dir,
          '--cfg-options', 'train_dataloader.batch_size=2'], **env)
    _wait(single)
    for rank in (0, 1):
        record = _record(dist_dir, rank)
        assert record['backend'] == 'gloo' and record['world_size'] == 2
        assert record['device'] == 'cpu'

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
