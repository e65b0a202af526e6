"""Which checkpoint ``--resume`` continues from after a crash, and what
resuming refuses (nothing left to train, another optimizer) or says (the
config values the checkpoint's optimizer state overrides)."""
import itertools
import os
import pathlib

import pytest
import torch
from asda_test_utils import linear_toy_training
from mmengine.config import Config

from asda.engine import (
    ASDARunner,
    CannotResumeError,
    checkpoint_problem,
    find_resumable_checkpoint,
)


def _save(path, value):
    torch.save({'state_dict': {'w': torch.full((64, 64), float(value))},
                'meta': {'epoch': value}}, path)
    return str(path)


def _cut(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def _record(work, path):
    (work / 'last_checkpoint').write_text(str(path))


def test_checkpoint_problem_finds_files_cut_short(tmp_path):
    good = _save(tmp_path / 'good.pth', 1)
    assert checkpoint_problem(good) is None
    cut = _save(tmp_path / 'cut.pth', 1)
    _cut(cut)
    assert 'cut short' in checkpoint_problem(cut)
    assert checkpoint_problem(str(tmp_path / 'absent.pth')) == 'file not found'
    (tmp_path / 'empty.pth').write_bytes(b'')
    assert checkpoint_problem(str(tmp_path / 'empty.pth')) == 'empty file'


def test_recorded_checkpoint_is_used_when_whole(tmp_path):
    _save(tmp_path / 'epoch_1.pth', 1)
    second = _save(tmp_path / 'epoch_2.pth', 2)
    _record(tmp_path, tmp_path / 'epoch_1.pth')
    # what last_checkpoint says wins, even over a newer file
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    _record(tmp_path, second)
    assert find_resumable_checkpoint(str(tmp_path)) == second


def test_falls_back_to_newest_readable_and_says_so(tmp_path, monkeypatch):
    import asda.engine.checkpoint as module
    logged = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, *args, **kwargs: logged.append(msg))
    first = _save(tmp_path / 'epoch_1.pth', 1)
    second = _save(tmp_path / 'epoch_2.pth', 2)
    third = _save(tmp_path / 'epoch_10.pth', 10)
    _save(tmp_path / 'best_oIoU_epoch_11.pth', 11)  # no optimizer state
    _cut(third)
    _record(tmp_path, third)
    assert find_resumable_checkpoint(str(tmp_path)) == second
    out = '\n'.join(logged)
    assert 'cannot be resumed from' in out and f'resuming from {second}' in out
    assert f'skipping {third}' in out
    # the recorded file deleted: same fallback
    os.unlink(third)
    os.unlink(second)
    assert find_resumable_checkpoint(str(tmp_path)) == first


def test_no_checkpoint_gives_none(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    _record(tmp_path, tmp_path / 'epoch_3.pth')  # names a file never written
    assert find_resumable_checkpoint(str(tmp_path)) is None


# ------------------------------------------------ what resuming would change
_NAMES = itertools.count()


def _toy_runner(work_dir, optimizer, by_epoch=True, length=1, resume=False,
                load_from=None):
    """An ASDARunner training a linear model on 8 points, 2 iterations an
    epoch, for ``length`` epochs (iterations when not ``by_epoch``); its
    config (saved in the checkpoints' meta) holds ``optimizer``."""
    optim_wrapper = dict(optimizer=optimizer)
    if by_epoch:
        train_cfg = dict(by_epoch=True, max_epochs=length)
    else:
        train_cfg = dict(by_epoch=False, max_iters=length)
    return ASDARunner(
        **linear_toy_training(),
        work_dir=str(work_dir),
        optim_wrapper=optim_wrapper,
        param_scheduler=dict(type='MultiStepLR', milestones=[1],
                             by_epoch=by_epoch),
        train_cfg=train_cfg,
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=by_epoch)),
        resume=resume,
        load_from=load_from,
        default_scope='mmseg',
        experiment_name=f'toy_resume_{next(_NAMES)}',
        cfg=_toy_config(work_dir, optim_wrapper))


def _toy_config(work_dir, optim_wrapper) -> Config:
    """The toy run's config, read from a file ``toy_config.py`` (beside
    the work dir), so that the runner dumps it as WORK_DIR/toy_config.py."""
    path = pathlib.Path(work_dir).parent / 'toy_configs' / 'toy_config.py'
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'optim_wrapper = {optim_wrapper!r}\n')
    return Config.fromfile(str(path))


def _log(runner) -> str:
    with open(runner.logger.handlers[-1].baseFilename) as f:
        return f.read()


SGD = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)


@pytest.mark.parametrize('by_epoch', [True, False])
def test_resume_with_nothing_left_to_train_is_refused(tmp_path, by_epoch):
    _toy_runner(tmp_path, SGD, by_epoch).train()
    unit = 'max_epochs' if by_epoch else 'max_iters'
    with pytest.raises(CannotResumeError, match=f'train_cfg.{unit} is 1: '
                       'nothing is left to train'):
        _toy_runner(tmp_path, SGD, by_epoch, resume=True).train()


def test_resume_names_each_config_value_the_checkpoint_overrides(tmp_path):
    _toy_runner(tmp_path, SGD).train()
    same = _toy_runner(tmp_path, SGD, length=2, resume=True)
    same.train()
    assert 'overrides the config' not in _log(same)

    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    changed = dict(SGD, lr=0.02, weight_decay=0.0)
    runner = _toy_runner(tmp_path, changed, length=2, resume=True)
    runner.train()
    log = _log(runner)
    assert 'overrides the config' in log
    assert 'lr: 0.02 in the config, 0.01 in the checkpoint' in log
    assert 'weight_decay: 0.0 in the config, 0.0001 in the checkpoint' in log
    assert 'momentum:' not in log  # unchanged values are not listed


def test_resume_with_another_optimizer_type_is_refused(tmp_path):
    _toy_runner(tmp_path, dict(type='AdamW', lr=0.01)).train()
    runner = _toy_runner(tmp_path, SGD, length=2, resume=True)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    with pytest.raises(CannotResumeError, match='AdamW.*SGD'):
        runner.train()
    assert not (tmp_path / 'epoch_2.pth').exists()
    for k, v in runner.model.state_dict().items():  # nothing was loaded
        assert torch.equal(v, before[k])


@pytest.mark.parametrize('kept', [('state_dict', 'meta'), ('state_dict',)])
def test_resume_from_a_weights_only_checkpoint_is_refused_naming_it(tmp_path, kept):
    """A published checkpoint (publish_model.py keeps the weights and meta)
    or bare weights hold no training state to resume."""
    _toy_runner(tmp_path / 'train', SGD).train()
    saved = torch.load(tmp_path / 'train' / 'epoch_1.pth', map_location='cpu',
                       weights_only=False)
    published = tmp_path / 'published.pth'
    torch.save({key: saved[key] for key in kept}, published)
    runner = _toy_runner(tmp_path / 'again', SGD, length=2, resume=True,
                         load_from=str(published))
    with pytest.raises(CannotResumeError) as err:
        runner.train()
    message = str(err.value)
    assert f'resume: {published} holds no training state' in message
    assert 'message_hub' in message and f'load_from={published}' in message


def test_a_refused_run_leaves_the_config_dump_alone(tmp_path):
    """WORK_DIR/<config>.py describes the checkpoints beside it: a run
    refused by its checks (here, another optimizer) does not rewrite it;
    one that passes them does."""
    _toy_runner(tmp_path, SGD).train()
    dump = tmp_path / 'toy_config.py'
    assert "type='SGD'" in dump.read_text()
    with pytest.raises(CannotResumeError):
        _toy_runner(tmp_path, dict(type='AdamW', lr=0.01), length=2, resume=True).train()
    assert "type='SGD'" in dump.read_text() and 'AdamW' not in dump.read_text()
    _toy_runner(tmp_path, dict(SGD, lr=0.02), length=2, resume=True).train()
    assert 'lr=0.02' in dump.read_text()
