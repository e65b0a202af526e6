"""asda.utils.atomic: a write the disk refuses (no space left, file size
limit) names the file, leaves no temporary file and keeps the old file."""
import errno
import os
import subprocess
import sys

import pytest
from asda_test_utils import ROOT, linear_toy_training

from asda.utils.atomic import atomic_write, write_json


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EFBIG])
def test_refused_write_names_the_file(code, tmp_path, monkeypatch):
    from mmengine.fileio import LocalBackend

    def refuse(self, obj, filepath):
        open(filepath, 'wb').close()
        raise OSError(code, os.strerror(code))  # as f.write raises it: no file name

    target = tmp_path / 'epoch_1.pth'
    target.write_bytes(b'old')
    monkeypatch.setattr(LocalBackend, 'put', refuse)
    with pytest.raises(OSError) as err:
        atomic_write(str(target), b'new')
    assert err.value.errno == code
    assert str(err.value) == f'[Errno {code}] {os.strerror(code)}: {str(target)!r}'
    assert os.listdir(tmp_path) == ['epoch_1.pth'] and target.read_bytes() == b'old'


def test_file_size_limit_names_the_file(tmp_path):
    """The kernel's own refusal (RLIMIT_FSIZE: EFBIG), in a child process."""
    target = tmp_path / 'big.bin'
    code = f'''
import importlib.util, resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
spec = importlib.util.spec_from_file_location(
    'atomic', {os.path.join(ROOT, 'projects', 'asda', 'utils', 'atomic.py')!r})
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
atomic.atomic_write({str(target)!r}, b'x' * 5000)
'''
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == \
        f"OSError: [Errno {errno.EFBIG}] File too large: {str(target)!r}"
    assert os.listdir(tmp_path) == []


def test_checkpoint_save_the_disk_refuses_names_the_checkpoint(tmp_path, monkeypatch):
    """SafeCheckpointHook writes through atomic_output: "no space left" in a
    save names the checkpoint being written."""
    from mmengine.fileio import LocalBackend

    from asda.engine import ASDARunner

    def full_disk(self, obj, filepath):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    runner = ASDARunner(
        **linear_toy_training(), work_dir=str(tmp_path),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', interval=1)),
        default_scope='mmseg', experiment_name='atomic_full_disk')
    monkeypatch.setattr(LocalBackend, 'put', full_disk)
    with pytest.raises(OSError) as err:
        runner.train()
    assert err.value.errno == errno.ENOSPC
    assert str(tmp_path / 'epoch_1.pth') in str(err.value)


# ----------------------------------------------------------------- write_json
def test_write_json_writes_non_finite_numbers_as_null(tmp_path):
    """Python's json writes NaN / Infinity, which strict parsers refuse:
    write_json writes null in each such field, and nowhere else."""
    import json
    import math

    import numpy as np

    path = tmp_path / 'metrics.json'
    data = dict(metrics=dict(val=dict(oIoU=math.nan, mIoU=71.5)),
                loss_history=[dict(step=1, loss=2.0), dict(step=2, loss=math.inf)],
                steps=(1, -math.inf), scale=np.float64('nan'), half=np.float32('nan'))
    write_json(str(path), data, default=lambda o: o.item())
    text = path.read_text()
    assert 'NaN' not in text and 'Infinity' not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == dict(
        metrics=dict(val=dict(oIoU=None, mIoU=71.5)),
        loss_history=[dict(step=1, loss=2.0), dict(step=2, loss=None)],
        steps=[1, None], scale=None, half=None)


def test_write_json_of_finite_data_is_json_dumps(tmp_path):
    import json
    data = dict(a=[1, 2.5, 'x', None, True], b=dict(c=-0.0))
    path = tmp_path / 'r.json'
    write_json(str(path), data, indent=2, newline=True)
    assert path.read_text() == json.dumps(data, indent=2) + '\n'
