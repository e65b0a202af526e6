"""A SIGKILL in the middle of any checkpoint write loses nothing: the run
resumes from the last complete checkpoint and ends with the same weights as
an uninterrupted run (CPU, deterministic)."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from asda_test_utils import ROOT, load_tool, write_config

from asda.engine import checkpoint_problem

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
def train_tool():
    return load_tool('tools/train.py', 'asda_train_tool_crash')


@pytest.fixture(scope='module')
def crash_config(tool_dataset, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp('crash') / 'cfg.py',
                        tool_dataset, EXTRA)


@pytest.fixture(scope='module')
def uninterrupted(crash_config, tmp_path_factory, train_tool):
    work = tmp_path_factory.mktemp('uninterrupted')
    runner = train_tool.main([crash_config, '--work-dir', str(work),
                              '--cfg-options', 'experiment_name=uninterrupted'])
    assert runner.epoch == 3
    return _weights(work / 'epoch_3.pth')


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.mark.parametrize('scenario', list(SCENARIOS))
def test_kill_during_write_then_resume_matches(scenario, crash_config, tmp_path,
                                               uninterrupted, train_tool):
    pattern, nth = SCENARIOS[scenario]
    work = tmp_path / 'work'
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='',
               PYTHONPATH=os.pathsep.join(
                   [HERE, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(
        [sys.executable, osp.join(HERE, 'kill_during_write.py'), pattern,
         str(nth), '--', crash_config, '--work-dir', str(work)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, (
        f'the run was not killed in the write ({scenario}):\n{proc.stderr[-3000:]}')

    # what the kill left: last_checkpoint names a complete checkpoint, and a
    # complete best checkpoint exists
    with open(work / 'last_checkpoint') as f:
        recorded = f.read().strip()
    assert checkpoint_problem(recorded) is None, recorded
    bests = glob.glob(str(work / 'best_*.pth'))
    assert any(checkpoint_problem(p) is None for p in bests), bests

    resumed = train_tool.main([crash_config, '--work-dir', str(work), '--resume',
                               '--cfg-options', f'experiment_name=resumed_{scenario}'])
    assert resumed.epoch == 3
    final = _weights(work / 'epoch_3.pth')
    assert final.keys() == uninterrupted.keys()
    diff = max((final[k].float() - uninterrupted[k].float()).abs().max().item()
               for k in final)
    assert diff < 1e-6
    # one checkpoint kept, no temporary file left behind
    assert sorted(osp.basename(p) for p in glob.glob(str(work / '*.pth'))
                  if 'best_' not in p) == ['epoch_3.pth']
    assert not glob.glob(str(work / '.*.tmp-*'))
