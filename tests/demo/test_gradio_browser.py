"""The web demo in a real browser: demo/gradio_demo.py started with no model
serves the committed demo model; headless Chromium (Debian's chromium +
chromium-driver, driven by Selenium from the demo environment) uploads a
showcase scene, types four expressions (a position, its opposite, a colour
and shape, a size) and downloads the masks, which must match
``RISInferencer`` on the same input and pick the objects the expressions
mean; an empty expression must show the error in the page. The image is a
phone-style JPEG whose pixels are stored turned with an EXIF orientation
tag: the page and the masks follow the orientation a viewer shows, so "left"
is the viewer's left. The app says at startup how long it keeps result files
(Gradio's ``delete_cache``).

Needs ``make demo-env`` (.venv-demo: gradio, selenium) and the two Debian
packages. Skipped with the reason when they are missing, except under
``ASDA_REQUIRE_BROWSER=1`` (CI), where that is a failure. Set
``ASDA_WEB_DEMO_SCREENSHOT=docs/web_demo.png`` to keep the screenshot.
"""
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest
from asda_test_utils import ROOT
from PIL import Image

from asda.synthetic.showcase import SHOWCASE, showcase_image, showcase_masks

DEMO_PYTHON = os.environ.get('ASDA_DEMO_PYTHON',
                             osp.join(ROOT, '.venv-demo', 'bin', 'python'))
DRIVER = osp.join(osp.dirname(__file__), 'web_demo_driver.py')
CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
STARTUP_S = 300  # importing torch + gradio and building the model on 2 busy cores


def _missing() -> list:
    """What the browser test lacks on this machine (empty when it can run)."""
    missing = [f'{path} (apt-get install chromium chromium-driver)'
               for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not os.access(DEMO_PYTHON, os.X_OK):
        missing.append(f'{DEMO_PYTHON} (make demo-env)')
    else:
        probe = subprocess.run([DEMO_PYTHON, '-c', 'import gradio, selenium'],
                               capture_output=True, text=True)
        if probe.returncode:
            missing.append(f'gradio / selenium in {DEMO_PYTHON} (make demo-env): '
                           f'{probe.stderr.strip().splitlines()[-1:]}')
    return missing


@pytest.fixture(scope='module')
def browser_ready():
    missing = _missing()
    if missing:
        reason = 'web demo browser test needs: ' + '; '.join(missing)
        if os.environ.get('ASDA_REQUIRE_BROWSER') == '1':
            pytest.fail(reason + ' (ASDA_REQUIRE_BROWSER=1)')
        pytest.skip(reason)


def _exif_jpeg(path, rgb: np.ndarray, orientation: int) -> str:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    Image.fromarray(np.ascontiguousarray(rgb)).save(path, 'JPEG', quality=95,
                                                    exif=exif.tobytes())
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait_served(url: str, app: subprocess.Popen, log_path: str) -> None:
    deadline = time.time() + STARTUP_S
    while time.time() < deadline:
        if app.poll() is not None:
            with open(log_path) as f:
                pytest.fail(f'the web demo exited ({app.returncode}):\n{f.read()[-4000:]}')
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f'the web demo did not answer at {url} within {STARTUP_S} s')


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@pytest.mark.slow
def test_web_demo_in_chromium(browser_ready, tmp_path):
    from asda.apis import RISInferencer

    scene = 'two_circles'
    expressions = list(SHOWCASE[scene]['expressions'])
    upright = showcase_image(scene)[..., ::-1]  # BGR -> RGB
    objects = showcase_masks(scene)
    # stored turned a quarter left, tagged "turn right to view" (EXIF 6)
    image = _exif_jpeg(tmp_path / 'phone.jpg', np.rot90(upright), 6)
    expected = [r['mask'] for r in RISInferencer()(image, expressions)]
    height, width = expected[0].shape
    assert (height, width) == upright.shape[:2]  # as viewed, not as stored

    port = _free_port()
    url = f'http://127.0.0.1:{port}/'
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False', HF_HUB_OFFLINE='1',
               GRADIO_TEMP_DIR=str(tmp_path / 'gradio'), PYTHONUNBUFFERED='1',
               # this tree's asda, whichever checkout .venv-demo was built in
               PYTHONPATH=os.pathsep.join(filter(None, [osp.join(ROOT, 'projects'),
                                                        os.environ.get('PYTHONPATH')])))
    log_path = str(tmp_path / 'app.log')
    with open(log_path, 'w') as log:
        app = subprocess.Popen(
            [DEMO_PYTHON, osp.join(ROOT, 'demo', 'gradio_demo.py'), '--port', str(port)],
            cwd=str(tmp_path), env=env, stdout=log,
            stderr=subprocess.STDOUT)
    try:
        _wait_served(url, app, log_path)
        downloads, shot, out = tmp_path / 'downloads', tmp_path / 'web_demo.png', \
            tmp_path / 'page.json'
        cmd = [DEMO_PYTHON, DRIVER, '--url', url, '--image', image, '--download-dir',
               str(downloads), '--screenshot', str(shot), '--out', str(out)]
        for expression in expressions:
            cmd += ['--expression', expression]
        driver = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert driver.returncode == 0, driver.stdout + driver.stderr
    finally:
        app.terminate()
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    page = json.loads(out.read_text())

    assert page['input_size'] == [width, height]
    assert page['typed'] == '\n'.join(expressions)
    assert page['message'] == f'{len(expressions)} expression(s) segmented.'
    rows = page['results']
    for k, (expression, mask) in enumerate(zip(expressions, expected)):
        target = objects[SHOWCASE[scene]['expressions'][expression]]
        row = rows[k]
        for part in ('mask', 'prob'):  # shown, image loaded at the input's size
            assert row[part] == dict(displayed=True, size=[width, height]), (k, part, row)
        # the overlay: the input with the expression written in a band above it
        assert row['overlay']['displayed'], (k, row)
        assert row['overlay']['size'][0] == width and row['overlay']['size'][1] > height
        assert row['layers'].startswith(expression) and 'AFS layers: low' in row['layers']
        downloaded = cv2.imread(row['mask_file'], cv2.IMREAD_UNCHANGED)
        assert downloaded is not None and downloaded.shape == (height, width), row['mask_file']
        assert set(np.unique(downloaded)) <= {0, 255}
        downloaded = downloaded > 127
        assert _iou(downloaded, mask) >= 0.98, (expression, _iou(downloaded, mask))
        # the object the expression means, as the viewer sees the photo
        assert _iou(downloaded, target) >= 0.5, (expression, _iou(downloaded, target))
    # the other result rows stay hidden
    assert not any(row['overlay']['displayed'] for row in rows[len(expressions):])

    # an empty expression: the message, no results, no trace
    assert page['typed_empty'] == ''
    assert page['empty_message'] == 'Error: Type at least one expression (one per line).'
    assert not any(row[part]['displayed'] for row in page['empty_results']
                   for part in ('overlay', 'mask', 'prob'))
    app_log = open(log_path).read()
    assert 'Traceback' not in app_log
    assert ('at most 4 expressions per request; result files are deleted 600 s after '
            'they are made (checked every 600 s)') in app_log

    # nothing but the local server (and in-page data) was requested
    remote = [r for r in page['resources'] if not r.startswith((url, 'data:', 'blob:'))]
    assert not remote, remote

    assert shot.stat().st_size > 10_000
    keep = os.environ.get('ASDA_WEB_DEMO_SCREENSHOT')
    if keep:
        shutil.copyfile(shot, keep)
    print(f'screenshot: {shot}', file=sys.stderr)
