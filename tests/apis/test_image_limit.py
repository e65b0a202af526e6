"""The pixel limit of inference images (asda.apis.image_io): an image of
more pixels is refused before it is decoded, whether a file (its header is
read), a PIL image (lazy) or an array; RISInferencer takes the limit as
``max_pixels``."""
import cv2
import numpy as np
import pytest
from asda_test_utils import write_png_bomb
from PIL import Image

from asda.apis import RISInferencer, load_image


@pytest.fixture
def no_decoding(monkeypatch):
    """Decoding an image file fails the test."""

    def imdecode(*args, **kwargs):
        raise AssertionError('the image was decoded before its size was checked')

    monkeypatch.setattr(cv2, 'imdecode', imdecode)


@pytest.fixture(scope='module')
def rgb_image():
    """A 190 x 150 RGB image."""
    return np.random.default_rng(0).integers(0, 256, (150, 190, 3), dtype=np.uint8)


@pytest.fixture(scope='module')
def bomb(tmp_path_factory):
    """A 12 KB PNG of 10000 x 10000 pixels (300 MB decoded)."""
    return write_png_bomb(tmp_path_factory.mktemp('bomb') / 'bomb.png', 10000, 10000)


def test_a_small_file_of_many_pixels_is_refused_before_decoding(bomb, no_decoding):
    with pytest.raises(ValueError, match=rf'image \({bomb}\): 10000 x 10000 = '
                       r'100,000,000 pixels, more than the limit of 67,108,864 '
                       r'\(max_pixels; refused before decoding it\)'):
        load_image(bomb)
    with pytest.warns(Image.DecompressionBombWarning):  # Pillow's own warning
        lazy = Image.open(bomb)  # a PIL image is not decoded until it is used
    with lazy, pytest.raises(ValueError, match='10000 x 10000'):
        load_image(lazy)


def test_beyond_pillows_own_limit(tmp_path, monkeypatch, no_decoding):
    huge = write_png_bomb(tmp_path / 'huge.png', 15000, 15000)
    with pytest.raises(ValueError, match=r'Pillow refuses to open it \(Image size '
                       r'\(225000000 pixels\).*; the limit is 67,108,864 pixels'):
        load_image(huge)
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', None)  # as the web demo sets it
    with pytest.raises(ValueError, match='15000 x 15000 = 225,000,000 pixels'):
        load_image(huge)


def test_the_inferencer_takes_the_limit(ris_config, ris_checkpoint, inferencer, bomb,
                                        rgb_image, no_decoding):
    from asda.apis import DEFAULT_MAX_PIXELS, ImageTooLargeError
    assert inferencer.max_pixels == DEFAULT_MAX_PIXELS == 2**26
    with pytest.raises(ImageTooLargeError, match=rf'image 0 \({bomb}\): 10000 x 10000'):
        inferencer(bomb, 'the red circle')
    height, width = rgb_image.shape[:2]
    small = RISInferencer(ris_config, ris_checkpoint, max_pixels=height * width - 1)
    with pytest.raises(ImageTooLargeError,
                       match=f'image 0: {width} x {height} = .* more than the limit of '):
        small(rgb_image, 'the red circle')
    [result] = small(np.ascontiguousarray(rgb_image[1:]), 'the red circle')
    assert result['mask'].shape == (height - 1, width)
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match='max_pixels must be a positive int or None'):
            RISInferencer(ris_config, ris_checkpoint, max_pixels=bad)
