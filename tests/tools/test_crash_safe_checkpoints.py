"""A SIGKILL in the middle of any checkpoint write loses nothing: the run
resumes from the last complete checkpoint and ends with the same weights as
an uninterrupted run. Every run is in a child process on the CPU (GPUs
hidden), where training is deterministic: each killed run in its own, the
uninterrupted run and the resumed ones in one. Two runs in one work dir: the second is
refused."""
import glob
import json
import os.path as osp
import subprocess
import sys
import time

import pytest
import torch
from asda_test_utils import ROOT, TESTS, child_env, write_config

from asda.engine import LOCK_FILE, WorkDirInUseError, checkpoint_problem

pytestmark = pytest.mark.slow
HERE = osp.dirname(osp.abspath(__file__))

EXTRA = '''
custom_imports = dict(imports=["asda", "kill_during_write"],
                      allow_failed_imports=False)
max_epochs = 3
param_scheduler = [dict(type="CosineAnnealingLR", by_epoch=True, begin=0,
                        end=3, eta_min=1e-5, convert_to_iter_based=True)]
train_cfg = dict(max_epochs=3, val_interval=1)
# one iteration per epoch and two validation expressions: the test is about
# the writes between epochs, not about training
train_dataloader['dataset']['indices'] = 4
val_dataloader['dataset']['indices'] = 2
val_evaluator = [dict(type="RISMetric"), dict(type="EvalCountMetric")]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1,
                                     save_best="evals", rule="greater"))
'''

# (what is being written when the kill comes, path pattern, n-th such write)
SCENARIOS = {
    # epoch 2's checkpoint, which replaces epoch 1's (max_keep_ckpts=1)
    'max_keep_ckpts=1': (r'(^|/)\.?epoch_2\.pth', 1),
    # epoch 2's best checkpoint, which replaces epoch 1's
    'save_best': (r'best_evals_epoch_2', 1),
    # the last_checkpoint record after epoch 2's checkpoint
    'last_checkpoint': (r'last_checkpoint', 3),
}


def _killed_run(work, config, pattern, nth) -> subprocess.Popen:
    """tools/train.py started in a CPU child that kills itself in the nth
    write matching ``pattern`` (tests/tools/kill_during_write.py)."""
    cmd = [sys.executable, osp.join(HERE, 'kill_during_write.py'), pattern, str(nth),
           '--', config, '--work-dir', str(work)]
    return subprocess.Popen(cmd, env=child_env(cpu_only=True, paths=[HERE]), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope='module')
def crash_config(tool_dataset, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp('crash') / 'cfg.py',
                        tool_dataset, EXTRA)


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def crash_runs(crash_config, tmp_path_factory):
    """Each scenario's killed run (a process of its own, killed in the
    write), what the kill left in its work dir; then, in one child process
    (tests/tools/run_tools.py), an uninterrupted run and the resumed run of
    each scenario. Returns (per scenario: the killed run's return code and
    stderr, the work dir, last_checkpoint's record and whether it and the
    best checkpoints read whole, and the resumed run's output; the
    uninterrupted run's final weights)."""
    base = tmp_path_factory.mktemp('crash_runs')
    works = {s: base / f'scenario{i}' for i, s in enumerate(SCENARIOS)}
    # the killed runs at the same time: they share nothing but the config
    killed = {s: _killed_run(works[s], crash_config, *SCENARIOS[s]) for s in SCENARIOS}
    found = {}
    for scenario, proc in killed.items():
        _, stderr = proc.communicate(timeout=600)
        work = works[scenario]
        recorded = (work / 'last_checkpoint').read_text().strip() \
            if (work / 'last_checkpoint').exists() else None
        bests = glob.glob(str(work / 'best_*.pth'))
        found[scenario] = dict(
            returncode=proc.returncode, stderr=stderr[-3000:], work=work,
            recorded=recorded,
            recorded_whole=recorded is not None and checkpoint_problem(recorded) is None,
            bests=bests, a_best_whole=any(checkpoint_problem(p) is None for p in bests))
    train = osp.join(ROOT, 'tools', 'train.py')
    runs = [[train, crash_config, '--work-dir', str(base / 'uninterrupted')]]
    runs += [[train, crash_config, '--work-dir', str(found[s]['work']), '--resume']
             for s in SCENARIOS]
    proc = subprocess.run(
        [sys.executable, osp.join(TESTS, 'run_tools.py'), json.dumps(runs)],
        env=child_env(cpu_only=True, paths=[HERE]), cwd=ROOT, capture_output=True,
        text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    outputs = (proc.stdout + proc.stderr).split('=== run ')[2:]
    for scenario, output in zip(SCENARIOS, outputs):
        found[scenario]['resumed'] = output
    return found, _weights(base / 'uninterrupted' / 'epoch_3.pth')


@pytest.mark.parametrize('scenario', list(SCENARIOS))
def test_kill_during_write_then_resume_matches(scenario, crash_runs):
    runs, uninterrupted = crash_runs
    run = runs[scenario]
    assert run['returncode'] == -9, (
        f'the run was not killed in the write ({scenario}):\n{run["stderr"]}')

    # what the kill left: last_checkpoint names a complete checkpoint, and a
    # complete best checkpoint exists
    assert run['recorded_whole'], run['recorded']
    assert run['a_best_whole'], run['bests']

    work = run['work']
    assert f'resume: continuing from {run["recorded"]}' in run['resumed']
    final = _weights(work / 'epoch_3.pth')
    assert final.keys() == uninterrupted.keys()
    diff = max((final[k].float() - uninterrupted[k].float()).abs().max().item()
               for k in final)
    assert diff < 1e-6
    # one checkpoint kept, no temporary file left behind
    assert sorted(osp.basename(p) for p in glob.glob(str(work / '*.pth'))
                  if 'best_' not in p) == ['epoch_3.pth']
    assert not glob.glob(str(work / '.*.tmp-*'))


def test_second_run_in_the_same_work_dir_is_refused(tool_dataset, tmp_path,
                                                     train_tool):
    """Run A (a child process) trains; run B, started in this process while
    A holds the work dir, is refused within a second naming A's pid, writes
    nothing, and A ends with every checkpoint it saved."""
    cfg = write_config(
        tmp_path / 'cfg.py', tool_dataset,
        'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", '
        'max_iters=3, val_interval=100)\n'
        'param_scheduler = None\n'
        'train_dataloader["dataset"]["indices"] = 4\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1, '
        'max_keep_ckpts=-1, save_best=None))\n'
        'val_dataloader = val_cfg = val_evaluator = None\n'
        'log_processor = dict(by_epoch=False)\n')
    work = tmp_path / 'work'
    first = subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg,
         '--work-dir', str(work)], env=child_env(cpu_only=True), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not glob.glob(str(work / '*' / '*.log')):  # A has started
        assert first.poll() is None, first.communicate()[0][-3000:]
        assert time.monotonic() < deadline, 'run A wrote no log'
        time.sleep(0.05)

    start = time.monotonic()
    with pytest.raises(WorkDirInUseError) as err:
        train_tool.main([cfg, '--work-dir', str(work)])
    refused_after = time.monotonic() - start
    assert first.poll() is None  # refused while A runs, not after it
    assert refused_after < 1.0
    assert f'pid {first.pid} ' in str(err.value) and str(work) in str(err.value)

    output = first.communicate(timeout=600)[0]
    assert first.returncode == 0, output[-3000:]
    for step in (1, 2, 3):
        assert checkpoint_problem(str(work / f'iter_{step}.pth')) is None
    assert (work / 'last_checkpoint').read_text().strip() == \
        str(work / 'iter_3.pth')
    assert len(glob.glob(str(work / '*' / '*.log'))) == 1  # A's log only
    assert f'pid {first.pid} ' in (work / LOCK_FILE).read_text()
