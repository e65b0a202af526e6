"""Which checkpoint ``--resume`` continues from after a crash."""
import os

import torch

from asda.engine import checkpoint_problem, find_resumable_checkpoint


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
