"""A SIGKILL in the middle of any checkpoint write loses nothing: the run
resumes from the last complete checkpoint and ends with the same weights as
an uninterrupted run. The runs are in one child process on the CPU (GPUs
hidden), where training is deterministic; each killed run is forked from it,
so that the kill ends a process of its own. Two runs in one work dir: the
second is refused."""
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


@pytest.fixture(scope='module')
def crash_config(tool_dataset, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp('crash') / 'cfg.py',
                        tool_dataset, EXTRA)


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def crash_runs(crash_config, tmp_path_factory):
    """In one child process (tests/run_tools.py): each scenario's killed run
    (a process of its own, forked, killed in the write), a
    copy of what each kill left in its work dir, an uninterrupted run, and
    the resumed run of each scenario; each killed run must die by the kill.
    Returns (per scenario: the work dir, what last_checkpoint recorded and
    whether that checkpoint and a best checkpoint read whole after the kill,
    and the resumed run's output; the uninterrupted run's final weights)."""
    base = tmp_path_factory.mktemp('crash_runs')
    works = {s: base / f'scenario{i}' for i, s in enumerate(SCENARIOS)}
    left = {s: base / f'left_by_kill{i}' for i, s in enumerate(SCENARIOS)}
    train = osp.join(ROOT, 'tools', 'train.py')
    runs = [dict(kill_in_write=list(SCENARIOS[s]),
                 run=[train, crash_config, '--work-dir', str(works[s])]) for s in SCENARIOS]
    runs += [dict(copy=[str(works[s]), str(left[s])]) for s in SCENARIOS]
    runs += [[train, crash_config, '--work-dir', str(base / 'uninterrupted')]]
    runs += [[train, crash_config, '--work-dir', str(works[s]), '--resume']
             for s in SCENARIOS]
    proc = subprocess.run(
        [sys.executable, osp.join(TESTS, 'run_tools.py'), json.dumps(runs)],
        env=child_env(cpu_only=True, paths=[HERE]), cwd=ROOT, capture_output=True,
        text=True, timeout=900)
    not_killed = [s for number, s in enumerate(SCENARIOS)
                  if f'=== run {number} ended: -9\n' not in proc.stdout]
    assert not not_killed, f'not killed in the write: {not_killed}\n{proc.stderr[-3000:]}'
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = {}
    for scenario in SCENARIOS:
        copy = left[scenario]
        recorded = (copy / 'last_checkpoint').read_text().strip() \
            if (copy / 'last_checkpoint').exists() else None
        # last_checkpoint names the file in the work dir; read its copy
        recorded_copy = recorded and str(copy / osp.relpath(recorded, works[scenario]))
        bests = glob.glob(str(copy / 'best_*.pth'))
        found[scenario] = dict(
            work=works[scenario], recorded=recorded,
            recorded_whole=recorded is not None and checkpoint_problem(recorded_copy) is None,
            bests=bests, a_best_whole=any(checkpoint_problem(p) is None for p in bests))
    first_resumed = len(runs) - len(SCENARIOS)
    for number, scenario in enumerate(SCENARIOS, first_resumed):
        found[scenario]['resumed'] = proc.stdout.split(f'=== run {number}: ')[1] \
            .split(f'=== run {number + 1}: ')[0]
    return found, _weights(base / 'uninterrupted' / 'epoch_3.pth')


@pytest.mark.parametrize('scenario', list(SCENARIOS))
def test_kill_during_write_then_resume_matches(scenario, crash_runs):
    runs, uninterrupted = crash_runs
    run = runs[scenario]
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
