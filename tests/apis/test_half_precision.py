"""Half-precision inference (``RISInferencer(dtype=...)``) agrees with fp32.

A random-init model's probability maps are nearly flat (std ~0.01 on the
synthetic images), so half-precision rounding moves its mask boundary
anywhere: agreement is only meaningful for a model whose masks are decided.
The tiny segmentor is first trained on scenes of a red square and a blue
circle (each image once per expression) until it finds both; the masks at
its own threshold then cover 5-95% of each image, and each half-precision
mask must have IoU >= 0.98 with the fp32 one.
"""
import numpy as np
import pytest
import torch
from asda_test_utils import DEMO_CONFIG, load_tool
from mmengine.config import Config

from asda.apis import RISInferencer, init_model

pytestmark = pytest.mark.slow
SIZE = 96
STEPS = 60  # fp32 masks then overlap the objects (IoU ~0.75); half: >= 0.99
EXPRESSIONS = ('red square', 'blue circle')


def _scenes(seed, count):
    """(BGR image, {expression: mask}) with a red square and a blue circle."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    scenes = []
    while len(scenes) < count:
        corner = rng.integers(4, SIZE - 32, 2)
        centre = rng.integers(18, SIZE - 18, 2)
        if np.abs(corner + 14 - centre).max() <= 30:
            continue  # keep the two shapes apart
        square = np.zeros((SIZE, SIZE), bool)
        square[corner[0]:corner[0] + 28, corner[1]:corner[1] + 28] = True
        circle = (yy - centre[0])**2 + (xx - centre[1])**2 <= 14**2
        img = np.full((SIZE, SIZE, 3), 90, np.uint8)
        img[square] = (0, 0, 220)
        img[circle] = (220, 0, 0)
        scenes.append((img, {'red square': square, 'blue circle': circle}))
    return scenes


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, checkpoint) of the tiny segmentor trained on the scenes."""
    tiny = load_tool('tests/models/tiny_models.py', 'asda_tiny_models')
    cfg = Config(dict(
        default_scope='mmseg',
        model=tiny.tiny_segmentor_cfg(img_size=SIZE),
        test_dataloader=dict(dataset=dict(
            pipeline=[dict(type='PackReferringInputs')]))))
    torch.manual_seed(0)
    model = init_model(cfg)
    model.train()
    inputs, samples = [], []
    for img, masks in _scenes(seed=0, count=4):
        for text in EXPRESSIONS:
            inputs.append(torch.from_numpy(img).permute(2, 0, 1).contiguous())
            samples.append(tiny.make_sample(
                text, masks[text].astype(np.int64), ori_shape=(SIZE, SIZE),
                img_shape=(SIZE, SIZE)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(STEPS):
        data = model.data_preprocessor(
            dict(inputs=inputs, data_samples=samples), True)
        losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp('half') / 'trained.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return cfg, str(path)


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def _check_agreement(trained, device, dtype):
    cfg, ckpt = trained
    full = RISInferencer(cfg, ckpt, device=device)
    half = RISInferencer(cfg, ckpt, device=device, dtype=dtype)
    assert half.dtype == dtype and full.dtype == 'fp32'
    # the forward really runs in half precision
    seen = []
    conv = next(m for m in half.model.decode_head.modules()
                if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    scenes = _scenes(seed=1, count=3)  # not the training scenes
    images = [img[..., ::-1] for img, _ in scenes]  # RGB arrays
    call = dict(images=images, expressions=[list(EXPRESSIONS)] * 3)
    ref, out = full(**call), half(**call)
    cast = dict(fp16=torch.float16, bf16=torch.bfloat16)[dtype]
    assert seen == [cast] * len(out)
    threshold = half.threshold
    ious, differs = [], False
    for a, b in zip(ref, out):
        assert b['prob'].dtype == np.float32 and b['mask'].dtype == np.bool_
        np.testing.assert_array_equal(b['mask'], b['prob'] > threshold)
        for mask in (a['mask'], b['mask']):
            assert 0.05 < mask.mean() < 0.95, mask.mean()  # not trivial
        ious.append(_iou(a['mask'], b['mask']))
        differs |= not np.array_equal(a['prob'], b['prob'])
    assert differs  # half precision rounds differently from fp32
    assert min(ious) >= 0.98, np.round(ious, 4)
    # and the fp32 masks are the objects (the model is trained)
    gts = [masks[t] for _, masks in scenes for t in EXPRESSIONS]
    assert min(_iou(a['mask'], gt) for a, gt in zip(ref, gts)) > 0.5


def test_bf16_on_cpu_agrees_with_fp32(trained):
    _check_agreement(trained, 'cpu', 'bf16')


@pytest.mark.gpu
@pytest.mark.parametrize('dtype', ['fp16', 'bf16'])
def test_half_on_cuda_agrees_with_fp32(trained, dtype):
    if dtype == 'bf16' and not torch.cuda.is_bf16_supported():
        pytest.skip('this GPU has no bfloat16')
    _check_agreement(trained, 'cuda', dtype)


def test_bad_dtype_is_refused():
    # checked before the model is built
    with pytest.raises(ValueError, match=r"dtype must be one of .*'fp16'.*"
                       r"got 'float16'"):
        RISInferencer(DEMO_CONFIG, 'no_such.pth', dtype='float16')
