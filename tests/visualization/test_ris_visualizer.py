"""RISLocalVisualizer: masks and the expression drawn on the image."""
import glob
import os.path as osp
import warnings

import cv2
import matplotlib
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from PIL import Image, ImageDraw, ImageFont

import asda  # noqa: F401  (registers the visualizer)
from asda.visualization import RISLocalVisualizer


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.integers(60, 120, size=(90, 120, 3), dtype=np.uint8)


def _sample(h=90, w=120, text='the red circle on the left', sent_id=7,
            gt=True, pred=True, layers=(3, 5)):
    sample = SegDataSample(metainfo=dict(text=text, sent_id=sent_id,
                                         afs_layers=layers))
    if gt:
        gt_map = torch.zeros(1, h, w, dtype=torch.long)
        gt_map[0, 20:50, 10:40] = 1
        sample.gt_sem_seg = PixelData(data=gt_map)
    if pred:
        pred_map = torch.zeros(1, h, w, dtype=torch.long)
        pred_map[0, 25:60, 15:50] = 1
        sample.pred_sem_seg = PixelData(data=pred_map)
    return sample


def test_registered_and_built_from_config():
    vis = VISUALIZERS.build(dict(type='RISLocalVisualizer', name='ris_vis_build'))
    assert isinstance(vis, RISLocalVisualizer)
    assert vis.dataset_meta['classes'] == ('background', 'object')


def test_draw_referring_layout(image):
    vis = RISLocalVisualizer(name='ris_vis_layout')
    mask = np.zeros(image.shape[:2], bool)
    mask[10:40, 20:60] = True
    plain = vis.draw_referring(image, pred_mask=mask, pred_caption=None)
    assert plain.shape == image.shape  # no text: no banner
    assert (plain[~mask] == image[~mask]).all()  # background untouched
    inside = plain[15:35, 25:55].astype(int)
    assert (inside[..., 0] > image[15:35, 25:55, 0]).all()  # tinted red

    drawn = vis.draw_referring(image, 'the red circle', pred_mask=mask,
                               gt_mask=mask.astype(np.uint8))
    banner = drawn.shape[0] - image.shape[0]
    assert banner > 0 and drawn.shape[1] == 2 * image.shape[1]
    assert drawn[:banner].max() == 255  # white text on the dark banner
    np.testing.assert_array_equal(vis.get_image(), drawn)

    # a long expression wraps to several lines: a taller banner
    long = vis.draw_referring(image, ' '.join(['word'] * 40), pred_mask=mask)
    assert long.shape[0] - image.shape[0] > banner
    # masks of another size are resized to the image; non-ASCII is fine
    small = vis.draw_referring(image, 'caf\u00e9 \u2192 left',
                               pred_mask=mask[::2, ::2])
    assert small.shape[1] == image.shape[1]


def test_add_datasample_saves_one_file_per_expression(image, tmp_path):
    vis = RISLocalVisualizer(
        name='ris_vis_save', vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path))
    vis.add_datasample('test_img_001.jpg', image, _sample(sent_id=7))
    vis.add_datasample('test_img_001.jpg', image,
                       _sample(sent_id=8, text='the blue square'))
    files = sorted(glob.glob(str(tmp_path / '**' / '*.png'), recursive=True))
    names = [osp.basename(f) for f in files]
    assert names == ['test_img_001_sent7_0.png', 'test_img_001_sent8_0.png']
    saved = cv2.imread(files[0])
    assert saved.shape[1] == 2 * image.shape[1]  # ground truth | prediction
    assert saved.shape[0] > image.shape[0]
    # different expressions give different banners
    other = cv2.imread(files[1])
    assert not np.array_equal(saved, other)


def test_add_datasample_options(image, tmp_path):
    vis = RISLocalVisualizer(name='ris_vis_opts')
    out = tmp_path / 'pred_only.png'
    vis.add_datasample('x', image, _sample(), draw_gt=False,
                       out_file=str(out))
    saved = cv2.imread(str(out))
    assert saved.shape[1] == image.shape[1] and saved.shape[0] > image.shape[0]
    # no prediction (e.g. ground truth only), no text
    sample = _sample(pred=False, text=None)
    vis.add_datasample('y', image, sample, out_file=str(tmp_path / 'gt.png'))
    assert cv2.imread(str(tmp_path / 'gt.png')).shape == image.shape


# The font, found here on its own (not through the visualizer).
DEJAVU = osp.join(matplotlib.get_data_path(), 'fonts', 'ttf', 'DejaVuSans.ttf')
UNICODE_TEXT = 'caf\u00e9 na\u00efve \u03a9\u03bc\u03ad\u03b3\u03b1 ' \
    '\u041c\u043e\u0441\u043a\u0432\u0430'  # cafe naive Omega Moscow


def _rendered(shape, text, size, xy, background, colour):
    """``text`` drawn by Pillow in DejaVu Sans on a plain (H, W, 3) image."""
    canvas = Image.new('RGB', (shape[1], shape[0]), background)
    ImageDraw.Draw(canvas).text(xy, text, fill=colour,
                                font=ImageFont.truetype(DEJAVU, size))
    return np.asarray(canvas)


def _assert_same_pixels(drawn, expected):
    assert drawn.shape == expected.shape
    ink = (expected.astype(int) - expected[0, 0].astype(int)) != 0
    assert ink.any(axis=2).sum() > 100  # there is text to compare
    diff = np.abs(drawn.astype(int) - expected.astype(int))
    assert (diff > 16).mean() < 0.002, (diff > 16).mean()


def test_banner_draws_latin_greek_cyrillic_with_the_font():
    image = np.full((40, 480, 3), 90, np.uint8)
    vis = RISLocalVisualizer(name='ris_vis_unicode', font_scale=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # every character has a glyph
        drawn = vis.draw_referring(image, UNICODE_TEXT)
    banner = drawn[:drawn.shape[0] - image.shape[0]]
    # font_scale 1.0: 24 px text, 8 px padding, one line at (8, 8)
    expected = _rendered(banner.shape, UNICODE_TEXT, 24, (8, 8), (24, 24, 24),
                         (255, 255, 255))
    _assert_same_pixels(banner, expected)
    # the comparison tells the text apart from '?' for each non-ASCII letter
    ascii_only = ''.join(c if ord(c) < 128 else '?' for c in UNICODE_TEXT)
    wrong = _rendered(banner.shape, ascii_only, 24, (8, 8), (24, 24, 24),
                      (255, 255, 255))
    assert (np.abs(banner.astype(int) - wrong.astype(int)) > 16).mean() > 0.01


def test_caption_draws_accents_with_the_font():
    image = np.full((60, 300, 3), 90, np.uint8)
    vis = RISLocalVisualizer(name='ris_vis_caption', font_scale=1.0)
    caption = 'pr\u00e9diction \u03a9 \u0416'
    drawn = vis.draw_referring(image, pred_mask=np.zeros((60, 300), bool),
                               pred_caption=caption)
    # captions: 0.8 of the text size (19 px) on black, 3 px padding
    font = ImageFont.truetype(DEJAVU, 19)
    ascent, descent = font.getmetrics()
    box = (ascent + descent + 6, int(np.ceil(font.getlength(caption))) + 6)
    expected = _rendered(box, caption, 19, (3, 3), (0, 0, 0),
                         vis.pred_color)
    _assert_same_pixels(drawn[:box[0], :box[1]], expected)


def test_missing_glyphs_drawn_as_placeholder_with_one_warning():
    image = np.full((40, 480, 3), 90, np.uint8)
    vis = RISLocalVisualizer(name='ris_vis_cjk', font_scale=1.0)
    text = '\u732b on the \u5de6 \U0001f984'  # cat, left (CJK), a unicorn emoji
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        drawn = vis.draw_referring(image, text)
        vis.draw_referring(image, '\u72ac \U0001f680', pred_mask=image[..., 0] > 0,
                           pred_caption='\u732b')
    messages = [str(w.message) for w in caught if 'glyph' in str(w.message)]
    assert len(messages) == 1, messages  # one warning, not one per character
    assert '\u732b' in messages[0] and '\u5de6' in messages[0]
    assert '\u25a1' in messages[0]  # says what is drawn instead
    banner = drawn[:drawn.shape[0] - image.shape[0]]
    expected = _rendered(banner.shape, '\u25a1 on the \u25a1 \u25a1', 24, (8, 8),
                         (24, 24, 24), (255, 255, 255))
    _assert_same_pixels(banner, expected)


@pytest.mark.parametrize('text', [' '.join(['word'] * 4000), 'x' * 20000])
def test_banner_cut_to_one_line_with_an_ellipsis(image, text):
    """max_text_lines=1 (the web demo): an expression of any length, words
    or one unbroken run, is one line cut with an ellipsis that fits the
    width; the overlay is one line taller than the image."""
    vis = RISLocalVisualizer(name=f'ris_vis_one_line_{len(text)}', max_text_lines=1)
    [line] = vis.banner_lines(image.shape[1], text)
    assert line.endswith('\u2026') and len(line) > 1
    assert text.startswith(line[:-1].rstrip())
    one_line = vis.draw_referring(image, 'the red circle').shape[0]
    assert vis.draw_referring(image, text).shape[0] == one_line
    # what fits is drawn whole
    assert vis.banner_lines(image.shape[1], 'the red circle') == ['the red circle']
    # without the limit, the expression wraps (tools/test.py --show-dir)
    assert len(RISLocalVisualizer(name=f'ris_vis_wrap_{len(text)}').banner_lines(
        image.shape[1], ' '.join(['word'] * 40))) > 1
