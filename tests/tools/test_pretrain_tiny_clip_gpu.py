"""tools/pretrain_tiny_clip_gpu.sh, the GPU machine's stage one, dry-run on
the CPU with a tiny budget: it installs the wheels it is given into a
temporary folder, renders with worker processes and writes the checkpoint,
its provenance and the log."""
import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
from asda_test_utils import ROOT


def _wheel(folder) -> str:
    """A minimal pure-Python wheel (one module) that pip installs offline."""
    name = 'asda_gpu_probe-0.1-py3-none-any.whl'
    dist = 'asda_gpu_probe-0.1.dist-info'
    files = {
        'asda_gpu_probe.py': 'VALUE = 7\n',
        f'{dist}/METADATA': 'Metadata-Version: 2.1\nName: asda-gpu-probe\nVersion: 0.1\n',
        f'{dist}/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n'
                         'Tag: py3-none-any\n',
    }
    record = ''.join(f'{k},,\n' for k in files) + f'{dist}/RECORD,,\n'
    with zipfile.ZipFile(folder / name, 'w') as z:
        for k, v in files.items():
            z.writestr(k, v)
        z.writestr(f'{dist}/RECORD', record)
    return name


@pytest.mark.slow
def test_gpu_script_dry_run_on_cpu(tmp_path):
    wheels = tmp_path / 'whl'
    wheels.mkdir()
    _wheel(wheels)
    config = tmp_path / 'tiny64.py'
    base = os.path.join(ROOT, 'configs/asda/_base_/models/asda_tiny-clip.py')
    config.write_text(f'_base_ = [{base!r}]\n'
                      'model = dict(backbone=dict(img_size=64))\n')
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHON=sys.executable, DEVICE='cpu', BATCH='6',
               STEPS='2', WORKERS='2', WHEELS=str(wheels))
    run = subprocess.run(
        ['bash', os.path.join(ROOT, 'tools/pretrain_tiny_clip_gpu.sh'), str(out),
         '--config', str(config), '--heldout', '6', '--probe-scenes', '12', '8',
         '--skip-baseline'], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    site = re.search(r'installed 1 wheels from \S+ into (\S+)', run.stdout)
    assert site, run.stdout[-2000:]
    assert os.path.isfile(os.path.join(site.group(1), 'asda_gpu_probe.py'))
    provenance = json.loads((out / 'tiny_clip_synthetic.json').read_text())
    args = provenance['args']
    assert (args['amp'], args['batch_size'], args['workers'], args['device']) == \
        (True, 6, 2, 'cpu')
    assert args['max_train_minutes'] == 8 and provenance['steps_done'] == 2
    assert (out / 'tiny_clip_synthetic.pt').is_file()
    assert 'wrote' in (out / 'pretrain.log').read_text()
