"""ReferringResize: images of any size, 1 x 1 to extreme aspect ratios."""
import copy
import warnings

import numpy as np
import pytest
from asda_test_utils import DEMO_CONFIG
from mmseg.registry import TRANSFORMS

from asda.datasets import ReferringResize  # applies asda.compat first

# mmseg's Resize (importing mmseg.datasets directly needs asda.compat)
Resize = TRANSFORMS.get('Resize')

# (H, W) of the images: thin, tall, tiny, and an ordinary one
SIZES = [(10, 5000), (5000, 10), (1, 1), (1, 5000), (2, 3), (90, 120)]


def _results(h, w, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    seg = np.zeros((h, w), np.uint8)
    seg[:max(1, h // 2), :max(1, w // 2)] = 1
    return dict(img=img, img_shape=(h, w), ori_shape=(h, w),
                gt_seg_map=seg, seg_fields=['gt_seg_map'],
                img_path=f'data/img_{h}x{w}.jpg')


def test_registered():
    step = TRANSFORMS.build(dict(type='ReferringResize', scale=(224, 224),
                                 keep_ratio=True))
    assert isinstance(step, ReferringResize) and isinstance(step, Resize)


@pytest.mark.parametrize('scale', [224, 416])
@pytest.mark.parametrize('h, w', SIZES)
def test_keep_ratio_never_gives_a_side_of_zero(h, w, scale):
    out = ReferringResize(scale=(scale, scale), keep_ratio=True)(
        _results(h, w))
    new_h, new_w = out['img'].shape[:2]
    assert new_h >= 1 and new_w >= 1
    # the long side reaches the scale, the aspect ratio is kept (rounded,
    # at least one pixel)
    assert max(new_h, new_w) == scale
    factor = scale / max(h, w)
    assert new_h == max(1, int(h * factor + 0.5))
    assert new_w == max(1, int(w * factor + 0.5))
    assert out['img'].shape[2] == 3
    assert out['gt_seg_map'].shape == (new_h, new_w)
    assert out['img_shape'] == (new_h, new_w)
    assert out['scale_factor'] == (new_w / w, new_h / h)
    assert out['keep_ratio'] is True


@pytest.mark.parametrize('h, w', [(10, 5000), (1, 1)])
def test_fixed_size_and_scale_factor(h, w):
    out = ReferringResize(scale=(64, 32), keep_ratio=False)(_results(h, w))
    assert out['img'].shape[:2] == (32, 64) == out['gt_seg_map'].shape
    assert out['keep_ratio'] is False
    # a scale factor that rounds a side to 0 also gives >= 1 pixel
    out = ReferringResize(scale_factor=0.01, keep_ratio=True)(_results(h, w))
    assert min(out['img'].shape[:2]) >= 1
    assert out['gt_seg_map'].shape == out['img'].shape[:2]


@pytest.mark.parametrize('h, w', [(90, 120), (480, 640), (333, 97)])
def test_same_as_mmseg_resize_on_ordinary_images(h, w):
    """Where mmseg's Resize works, the results are identical."""
    ours = ReferringResize(scale=(416, 416), keep_ratio=True)(_results(h, w))
    theirs = Resize(scale=(416, 416), keep_ratio=True)(_results(h, w))
    for key in ('img_shape', 'scale', 'scale_factor', 'keep_ratio'):
        assert ours[key] == theirs[key], key
    np.testing.assert_array_equal(ours['img'], theirs['img'])
    np.testing.assert_array_equal(ours['gt_seg_map'], theirs['gt_seg_map'])


def test_empty_image_error_names_the_image():
    results = _results(4, 4)
    results['img'] = np.zeros((0, 7, 3), np.uint8)
    with pytest.raises(ValueError, match=r'data/img_4x4\.jpg.*') as err:
        ReferringResize(scale=(224, 224), keep_ratio=True)(results)
    assert '0 x 7' in str(err.value)


@pytest.fixture(scope='module')
def inferencer():
    from asda.apis import RISInferencer
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # no checkpoint: random weights
        return RISInferencer(DEMO_CONFIG)


@pytest.mark.parametrize('h, w', [(10, 5000), (5000, 10), (1, 1)])
def test_inferencer_mask_at_the_original_size(inferencer, h, w):
    """End to end with the demo config (224 keep-ratio resize)."""
    img = _results(h, w)['img']
    result = inferencer(copy.deepcopy(img), 'the thin strip')[0]
    assert result['mask'].shape == (h, w)
    assert result['prob'].shape == (h, w)
    assert np.isfinite(result['prob']).all()
