"""tools/train.py --resume continues bit for bit: the tiny ASDA model on the
synthetic data with the demo's random augmentations (flip, photometric
distortion), dropout and a shuffled order, validated after each epoch, stopped
after epoch 1 and resumed, ends with every weight equal to the uninterrupted
run's (asda.engine.resume.RNGStateHook). The runs of both tests are in one CPU
child process, where training is deterministic."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from asda_test_utils import ROOT, TESTS, child_env, write_config

pytestmark = pytest.mark.slow

EXTRA = '''
_random_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='LoadReferringAnnotations'),
    dict(type='ReferringRandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=16, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=2),
    dict(type='ReferringResize', scale=(224, 224), keep_ratio=True),
    dict(type='PackReferringInputs'),
]
train_dataloader = dict(batch_size=2, num_workers={workers}, persistent_workers=False,
                        dataset=dict(data_root=data_root, indices=4,
                                     pipeline=_random_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, indices=2))
train_cfg = dict(val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2, save_best=None))
'''


WORKERS = (0, 1)


@pytest.fixture(scope='module')
def resume_runs(tool_dataset, tmp_path_factory):
    """For each number of train loader workers, in one child process
    (tests/run_tools.py): a 2-epoch run, and a 1-epoch run resumed for
    epoch 2. Returns (the folder of each workers value's runs, each run's
    output)."""
    base = tmp_path_factory.mktemp('bit_exact_resume')
    train = osp.join(ROOT, 'tools', 'train.py')
    runs, folders = [], {}
    for workers in WORKERS:
        folder = folders[workers] = base / f'workers{workers}'
        folder.mkdir()
        cfg = write_config(folder / 'cfg.py', tool_dataset, EXTRA.format(workers=workers))

        for work, epochs, *more in [('whole', 2), ('parts', 1), ('parts', 2, '--resume')]:
            runs.append([train, cfg, '--work-dir', str(folder / work), *more, '--cfg-options',
                         f'train_cfg.max_epochs={epochs}', f'experiment_name={work}_{epochs}'])
    proc = subprocess.run([sys.executable, osp.join(TESTS, 'run_tools.py'), json.dumps(runs)],
                          env=child_env(cpu_only=True), cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    outputs = proc.stdout.split('=== run ')[1:]
    return folders, outputs


@pytest.mark.parametrize('workers', WORKERS)
def test_resumed_training_equals_the_uninterrupted_one(resume_runs, workers):
    folders, outputs = resume_runs
    folder = folders[workers]
    whole_run, first_part, second_part = outputs[3 * WORKERS.index(workers):][:3]
    assert 'Saving checkpoint at 1 epochs' in first_part  # stopped after epoch 1
    assert 'Saving checkpoint at 2 epochs' not in first_part
    assert f'resume: continuing from {folder / "parts" / "epoch_1.pth"}' in second_part
    assert 'resumed epoch: 1' in second_part

    def checkpoint(work, epoch):
        return torch.load(folder / work / f'epoch_{epoch}.pth', map_location='cpu',
                          weights_only=False)

    assert checkpoint('parts', 2)['meta']['epoch'] == 2
    whole, resumed = checkpoint('whole', 2)['state_dict'], checkpoint('parts', 2)['state_dict']
    after_one = checkpoint('parts', 1)['state_dict']
    assert any(not torch.equal(after_one[k], resumed[k]) for k in resumed)  # it trained
    assert whole.keys() == resumed.keys()
    differ = [k for k in whole if not torch.equal(whole[k], resumed[k])]
    assert not differ, f'{len(differ)} of {len(whole)} tensors differ, e.g. {differ[:3]}'
