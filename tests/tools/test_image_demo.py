"""demo/image_demo.py: overlay with the expression, binary mask."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
from asda_test_utils import load_tool, save_random_checkpoint, write_config

from asda.apis import RISInferencer


@pytest.fixture(scope='module')
def demo_checkpoint(tool_dataset, tmp_path_factory):
    work = tmp_path_factory.mktemp('image_demo')
    cfg = write_config(work / 'cfg.py', tool_dataset)
    ckpt = work / 'model.pth'
    save_random_checkpoint(ckpt, cfg, seed=1)
    return cfg, str(ckpt)


def test_image_demo_writes_overlay_and_mask(tool_dataset, demo_checkpoint,
                                            tmp_path):
    cfg, ckpt = demo_checkpoint
    img = sorted(glob.glob(osp.join(tool_dataset, 'images', '*.jpg')))[0]
    demo = load_tool('demo/image_demo.py', 'asda_image_demo')
    out, mask_file = tmp_path / 'overlay.png', tmp_path / 'mask.png'
    results = demo.main([img, 'the red circle', cfg, ckpt, '--out-file',
                         str(out), '--out-mask', str(mask_file),
                         '--out-prob', str(tmp_path / 'prob.png'),
                         '-e', 'the blue square', '--device', 'cpu'])
    image = cv2.imread(img)
    overlay = cv2.imread(str(out))
    assert overlay.shape[1] == image.shape[1]
    assert overlay.shape[0] > image.shape[0]  # the expression's banner
    mask = cv2.imread(str(mask_file), cv2.IMREAD_UNCHANGED)
    assert mask.shape == image.shape[:2]
    assert set(np.unique(mask)) <= {0, 255}
    np.testing.assert_array_equal(mask > 0, results[0]['mask'])
    assert osp.isfile(tmp_path / 'prob.png')
    # the extra expression gets numbered files
    assert osp.isfile(tmp_path / 'overlay_1.png')
    assert osp.isfile(tmp_path / 'mask_1.png')
    assert [r['text'] for r in results] == ['the red circle', 'the blue square']

    expected = RISInferencer(cfg, ckpt)(img, 'the red circle')[0]
    np.testing.assert_array_equal(expected['mask'], results[0]['mask'])


def test_image_demo_rejects_empty_expression(tool_dataset, demo_checkpoint,
                                             tmp_path):
    cfg, ckpt = demo_checkpoint
    img = sorted(glob.glob(osp.join(tool_dataset, 'images', '*.jpg')))[0]
    demo = load_tool('demo/image_demo.py', 'asda_image_demo')
    with pytest.raises(ValueError, match='expression 0 is empty'):
        demo.main([img, ' ', cfg, ckpt, '--out-file', str(tmp_path / 'o.png')])


def test_image_demo_bf16(tool_dataset, demo_checkpoint, tmp_path):
    cfg, ckpt = demo_checkpoint
    img = sorted(glob.glob(osp.join(tool_dataset, 'images', '*.jpg')))[0]
    demo = load_tool('demo/image_demo.py', 'asda_image_demo')
    assert demo.parse_args([img, 'x', cfg, ckpt]).dtype == 'fp32'
    assert demo.parse_args([img, 'x', cfg, ckpt, '--fp16']).dtype == 'fp16'
    with pytest.raises(SystemExit):  # one of the two
        demo.parse_args([img, 'x', cfg, ckpt, '--fp16', '--bf16'])
    results = demo.main([img, 'the red circle', cfg, ckpt, '--out-file',
                         str(tmp_path / 'o.png'), '--bf16'])
    expected = RISInferencer(cfg, ckpt, dtype='bf16')(img, 'the red circle')[0]
    np.testing.assert_array_equal(expected['prob'], results[0]['prob'])
    fp32 = RISInferencer(cfg, ckpt)(img, 'the red circle')[0]
    assert not np.array_equal(fp32['prob'], results[0]['prob'])


def test_image_demo_follows_exif_orientation(tool_dataset, demo_checkpoint, tmp_path):
    """A phone JPEG stored sideways with an EXIF orientation tag: the mask
    and the overlay are the way a viewer shows the photo."""
    from PIL import Image
    cfg, ckpt = demo_checkpoint
    src = sorted(glob.glob(osp.join(tool_dataset, 'images', '*.jpg')))[0]
    stored = cv2.imread(src)[:, :, ::-1][:90, :130]  # not square
    exif = Image.Exif()
    exif[0x0112] = 8  # turn 90 degrees counter-clockwise for display
    photo = tmp_path / 'phone.jpg'
    Image.fromarray(np.ascontiguousarray(stored)).save(photo, exif=exif.tobytes())
    demo = load_tool('demo/image_demo.py', 'asda_image_demo')
    mask_file, out = tmp_path / 'mask.png', tmp_path / 'overlay.png'
    demo.main([str(photo), 'the red circle', cfg, ckpt, '--out-file', str(out),
               '--out-mask', str(mask_file)])
    assert cv2.imread(str(mask_file), cv2.IMREAD_UNCHANGED).shape == (130, 90)
    assert cv2.imread(str(out)).shape[1] == 90


def test_image_demo_draws_boxes(tool_dataset, demo_checkpoint, tmp_path, capsys):
    """--boxes outlines the box of the mask's largest component on the
    overlay in the prediction's colour, and prints it."""
    cfg, ckpt = demo_checkpoint
    img = sorted(glob.glob(osp.join(tool_dataset, 'images', '*.jpg')))[0]
    demo = load_tool('demo/image_demo.py', 'asda_image_demo')
    prob = RISInferencer(cfg, ckpt)(img, 'the red circle')[0]['prob']
    common = [img, 'the red circle', cfg, ckpt, '--threshold', f'{np.median(prob):.6f}']
    plain = demo.main(common + ['--out-file', str(tmp_path / 'plain.png')])
    capsys.readouterr()
    [result] = demo.main(common + ['--out-file', str(tmp_path / 'boxed.png'), '--boxes'])
    x, y, w, h = result['box']
    assert f'boxes [x, y, w, h]: [[{x}, {y}, {w}, {h}]]' in capsys.readouterr().out
    np.testing.assert_array_equal(plain[0]['mask'], result['mask'])
    before, after = (cv2.imread(str(tmp_path / f'{n}.png')) for n in ('plain', 'boxed'))
    top = after.shape[0] - cv2.imread(img).shape[0]  # the expression's banner
    outline = np.zeros(after.shape[:2], bool)
    outline[top + y, x:x + w] = outline[top + y + h - 1, x:x + w] = True
    outline[top + y:top + y + h, x] = outline[top + y:top + y + h, x + w - 1] = True
    changed = (before != after).any(axis=2)
    assert changed.any() and not (changed & ~outline).any()
    # the prediction's colour (RGB 255, 48, 48) on every outline pixel
    np.testing.assert_array_equal(after[outline], np.tile([48, 48, 255], (outline.sum(), 1)))


def test_image_demo_without_a_model_runs_the_committed_one(tmp_path):
    """IMAGE TEXT alone: the committed demo model segments a showcase
    scene (the purple hexagon of two_circles); CONFIG without CHECKPOINT is
    refused."""
    from asda.synthetic.showcase import showcase_image, showcase_masks
    img = tmp_path / 'scene.png'
    cv2.imwrite(str(img), showcase_image('two_circles'))
    demo = load_tool('demo/image_demo.py', 'asda_image_demo')
    mask_file = tmp_path / 'mask.png'
    demo.main([str(img), 'the purple hexagon', '--out-file', str(tmp_path / 'o.png'),
               '--out-mask', str(mask_file)])
    mask = cv2.imread(str(mask_file), cv2.IMREAD_UNCHANGED) > 0
    hexagon = showcase_masks('two_circles')[2]
    assert np.logical_and(mask, hexagon).sum() / np.logical_or(mask, hexagon).sum() >= 0.5
    with pytest.raises(SystemExit):
        demo.parse_args([str(img), 'the red circle', 'cfg.py'])
