"""The web demo's request handling without a browser: demo/gradio_demo.py's
DemoModel called in this process (it needs no gradio). The Gradio side (an
upload's EXIF orientation, the app's cache deletion) is checked by the
browser test, test_gradio_browser.py, in the demo environment."""
import glob
import os
import os.path as osp
import threading

import cv2
import numpy as np
import pytest
from asda_test_utils import (
    ROOT,
    load_tool,
    save_random_checkpoint,
    write_config,
    write_png_bomb,
)
from PIL import Image

DEMO_PYTHON = os.environ.get('ASDA_DEMO_PYTHON',
                             osp.join(ROOT, '.venv-demo', 'bin', 'python'))


@pytest.fixture(scope='module')
def demo():
    return load_tool('demo/gradio_demo.py', 'asda_gradio_demo')


@pytest.fixture(scope='module')
def model_files(small_dataset, tmp_path_factory):
    work = tmp_path_factory.mktemp('gradio_demo')
    config = write_config(work / 'cfg.py', small_dataset)
    checkpoint = str(work / 'random_init.pth')
    save_random_checkpoint(checkpoint, config, seed=0)
    return config, checkpoint


@pytest.fixture
def model(demo, model_files):
    model = demo.DemoModel(*model_files)
    yield model
    model.close()


def _images(data_root, count):
    return sorted(glob.glob(osp.join(data_root, 'images', '*.jpg')))[:count]


class _CountingInferencer:
    """The demo's inferencer, counting the expressions it is given."""

    def __init__(self, inferencer):
        self.inferencer = inferencer
        self.expressions = 0

    def __call__(self, image, expressions):
        self.expressions += len(expressions)
        return self.inferencer(image, expressions)


def test_lines_are_capped_before_inference(demo, model, small_dataset):
    model.inferencer = _CountingInferencer(model.inferencer)
    [image] = _images(small_dataset, 1)
    lines = '\n'.join(f'the red circle {k}' for k in range(9))
    with pytest.raises(demo.DemoInputError,
                       match=r'9 expressions given; the demo segments at most 4'):
        model.run(image, lines)
    assert model.inferencer.expressions == 0
    assert len(model.run(image, '\n'.join(lines.splitlines()[:4]))) == 4


@pytest.mark.filterwarnings('ignore:expression .* more than the context length')
def test_long_expressions_are_refused_and_overlays_stay_one_line(demo, model,
                                                                 small_dataset):
    """4 x 20,000 characters are refused before inference, naming the cap;
    the longest accepted expression is written on one line, cut with an
    ellipsis: the overlay is no taller than a short expression's."""
    model.inferencer = _CountingInferencer(model.inferencer)
    [image] = _images(small_dataset, 1)
    cap = demo.MAX_EXPRESSION_CHARS
    with pytest.raises(demo.DemoInputError,
                       match=f'expression 1 has 20000 characters; the demo takes at '
                       f'most {cap}'):
        model.run(image, '\n'.join(['x' * 20000] * 4))
    assert model.inferencer.expressions == 0
    short, longest = model.run(image, 'the red circle\n' + 'the red circle ' * (cap // 15))
    assert len(longest['expression']) <= cap
    assert longest['overlay'].shape == short['overlay'].shape


def test_concurrent_requests_get_their_own_files_and_overlays(model, small_dataset,
                                                               monkeypatch):
    images = _images(small_dataset, 4)
    text = 'the red circle\nthe blue square'
    alone = [model.run(image, text) for image in images]  # one at a time
    # The requests write their k-th mask together: each has named its file
    # before any of them writes one (cv2.imwrite still writes it).
    barrier, imwrite = threading.Barrier(len(images)), cv2.imwrite

    def write_together(path, img):
        barrier.wait(timeout=30)
        return imwrite(path, img)

    monkeypatch.setattr(cv2, 'imwrite', write_together)
    outputs, errors = [None] * len(images), []

    def request(k):
        try:
            outputs[k] = model.run(images[k], text)
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=request, args=(k,)) for k in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    files = [out['mask_file'] for request_outputs in outputs for out in request_outputs]
    assert len(set(files)) == len(files) == 2 * len(images)
    for request_outputs, reference in zip(outputs, alone):
        for out, ref in zip(request_outputs, reference):
            np.testing.assert_array_equal(cv2.imread(out['mask_file'], cv2.IMREAD_UNCHANGED),
                                          out['mask'])
            np.testing.assert_array_equal(out['overlay'], ref['overlay'])


def test_request_files_are_cleaned_up(demo, model_files, small_dataset):
    [image] = _images(small_dataset, 1)
    model = demo.DemoModel(*model_files, keep_files_s=3600)
    first = model.run(image, 'the red circle')[0]['mask_file']
    second = model.run(image, 'the blue square')[0]['mask_file']
    assert osp.isfile(first) and osp.isfile(second)  # Gradio copies them after the call
    old = os.stat(first).st_mtime - 3601
    os.utime(osp.dirname(first), (old, old))
    model.run(image, 'the green triangle')  # each request removes the expired ones
    assert not osp.exists(first) and osp.isfile(second)
    out_dir = model.out_dir
    model.close()  # and the rest goes with the model (at exit at the latest)
    assert not osp.exists(out_dir)


def _exif_jpeg(path, rgb, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    Image.fromarray(rgb).save(path, 'JPEG', quality=95, exif=exif.tobytes())
    return str(path)


def test_file_input_follows_exif_orientation(model, small_dataset, tmp_path):
    [image] = _images(small_dataset, 1)
    stored = np.ascontiguousarray(cv2.imread(image)[:90, :130, ::-1])
    photo = _exif_jpeg(tmp_path / 'phone.jpg', stored, 6)  # turned 90 degrees
    [out] = model.run(photo, 'the red circle')
    assert out['mask'].shape == (130, 90)
    assert out['overlay'].shape[1] == 90


_SERVE = '''
import sys, time
from asda_test_utils import load_tool
demo = load_tool('demo/gradio_demo.py', 'asda_gradio_demo_child')
demo.stop_on_sigterm()
model = demo.DemoModel(sys.argv[1], sys.argv[2])
model.run(sys.argv[3], 'the red circle')  # a request's files in the folder
try:  # Gradio's launch() blocks the main thread so, and closes on Ctrl-C
    print('out_dir', model.out_dir, flush=True)
    while True:
        time.sleep(0.05)
except KeyboardInterrupt:
    print('closing server', flush=True)
'''


def test_sigterm_cleans_up_as_ctrl_c_does(model_files, small_dataset):
    """SIGTERM (a service stop, ``kill``) stops the demo as Ctrl-C does, so
    its temporary folder goes at exit. The demo environment's browser test
    covers Gradio's cache; here the serving loop is Gradio's (a sleeping
    main thread)."""
    import signal
    import subprocess
    import sys

    from asda_test_utils import child_env
    [image] = _images(small_dataset, 1)
    proc = subprocess.Popen([sys.executable, '-c', _SERVE, *model_files, image],
                            env=child_env(cpu_only=True), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = ''
        for line in proc.stdout:  # the model's loading logs come first
            if line.startswith('out_dir '):
                break
        assert line.startswith('out_dir '), proc.stderr.read()  # it did not start
        out_dir = line.split(' ', 1)[1].strip()
        written = glob.glob(osp.join(out_dir, 'request_*', 'mask_1.png'))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert written, (out_dir, err)
    assert proc.returncode == 0, err
    assert 'closing server' in out
    assert not osp.exists(out_dir)


@pytest.mark.parametrize('side', [10000, 15000])
def test_a_decompression_bomb_is_refused_in_the_page(demo, model, tmp_path, monkeypatch,
                                                     side):
    """A 12 KB PNG of 10000 x 10000 pixels took 31 s and 2.6 GB; at 15000 x
    15000 the page showed Gradio's generic error. The upload reaches the
    demo as its file, its size is read from the header, and the page says
    why it is refused; nothing is decoded. (main lifts Pillow's own limit,
    which Gradio's lazy open of the upload would hit first.)"""
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', None)

    def imdecode(*args, **kwargs):
        raise AssertionError('the image was decoded before its size was checked')

    monkeypatch.setattr(cv2, 'imdecode', imdecode)
    bomb = write_png_bomb(tmp_path / 'bomb.png', side, side)
    with pytest.raises(demo.DemoInputError) as err:
        model.run(bomb, 'the red circle')
    assert str(err.value) == (
        f'The image is too large: {side} x {side} pixels ({side**2 / 1e6:.1f} '
        'megapixels); this demo takes at most 67.1 megapixels (67,108,864 pixels). '
        'Make it smaller and upload it again.')


def test_the_pixel_limit_is_an_option(demo, model_files, small_dataset):
    [image] = _images(small_dataset, 1)
    height, width = cv2.imread(image).shape[:2]
    model = demo.DemoModel(*model_files, max_pixels=height * width - 1)
    try:
        with pytest.raises(demo.DemoInputError, match=f'The image is too large: {width} x '
                           f'{height} pixels'):
            model.run(image, 'the red circle')
    finally:
        model.close()
    assert demo.parse_args(['--max-pixels', '1000']).max_pixels == 1000
