"""Visualizer for referring segmentation: the expression on the image.

:class:`RISLocalVisualizer` is mmseg's ``SegLocalVisualizer`` for one binary
mask per sample: the object (prediction and/or ground truth) is tinted and
outlined on the image, and the expression (``metainfo['text']``) is written
in a banner above it, wrapped to the image's width (or cut to
``max_text_lines`` lines, the last ending with an ellipsis: the web demo
writes one). ``tools/test.py --show-dir DIR`` uses it through
mmseg's ``SegVisualizationHook`` (``visualizer = dict(type=
'RISLocalVisualizer', ...)`` in the runtime config); one file is written per
expression (the name carries the ``sent_id``), not one per image.

Text is drawn with Pillow in DejaVu Sans, the TrueType font matplotlib
ships: Latin, Greek and Cyrillic, accents included. A character the font
has no glyph for (e.g. CJK) is drawn as ``□``, with one warning per
visualizer.
"""
import functools
import os.path as osp
import unicodedata
import warnings
from typing import List, Optional, Sequence, Tuple

import cv2
import matplotlib
import mmcv
import numpy as np
from matplotlib.ft2font import FT2Font
from mmengine.dist import master_only
from mmseg.registry import VISUALIZERS
from mmseg.visualization import SegLocalVisualizer
from PIL import Image, ImageDraw, ImageFont

__all__ = ['RISLocalVisualizer', 'font_path', 'text_font']

Color = Tuple[int, int, int]

#: Drawn for a character the font has no glyph for (DejaVu Sans has this).
PLACEHOLDER = '\u25a1'
#: Text size in pixels at ``font_scale`` 1.0.
BASE_FONT_PX = 24
#: Ends a line of the banner that is cut.
ELLIPSIS = '\u2026'


def font_path() -> str:
    """DejaVu Sans (``DejaVuSans.ttf``), as shipped with matplotlib."""
    return osp.join(matplotlib.get_data_path(), 'fonts', 'ttf',
                    'DejaVuSans.ttf')


@functools.cache
def text_font(size: int) -> ImageFont.FreeTypeFont:
    """The font the visualizer draws with, ``size`` pixels."""
    return ImageFont.truetype(font_path(), size)


@functools.cache
def _charmap() -> FT2Font:
    return FT2Font(font_path())


@functools.lru_cache(maxsize=4096)
def _has_glyph(char: str) -> bool:
    """Whether the font has a glyph for ``char`` (glyph index 0: none)."""
    return _charmap().get_char_index(ord(char)) != 0


def _to_mask(data, shape: Tuple[int, int], ignore_index: int = 255
             ) -> np.ndarray:
    """A (1, H, W) / (H, W) tensor or array -> (H, W) bool at ``shape``."""
    if hasattr(data, 'detach'):
        data = data.detach().cpu().numpy()
    data = np.asarray(data)
    while data.ndim > 2:
        data = data[0]
    mask = (data > 0) & (data != ignore_index)
    if mask.shape != tuple(shape):
        mask = cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
    return mask


@VISUALIZERS.register_module()
class RISLocalVisualizer(SegLocalVisualizer):
    """Referring segmentation visualizer (mask overlays + expression).

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        image (np.ndarray, optional): RGB image to start with.
        vis_backends (list[dict], optional): Storage backends.
        save_dir (str, optional): Where the backends save.
        alpha (float): Opacity of the mask tint. Defaults to 0.5.
        pred_color (tuple): RGB colour of the prediction. Defaults to red.
        gt_color (tuple): RGB colour of the ground truth. Defaults to green.
        contour (bool): Outline the masks. Defaults to True.
        font_scale (float, optional): Text size of the expression, 1.0 =
            ``BASE_FONT_PX`` pixels (captions: 0.8 of it); None: from the
            image width.
        max_text_lines (int, optional): Lines the expression may take; a
            longer one is cut, its last line ending with ``ELLIPSIS``.
            None (default): as many as it needs.
        **kwargs: Other ``SegLocalVisualizer`` arguments (``classes``,
            ``palette``, ``dataset_name``: kept as ``dataset_meta``, unused
            for drawing, a referring mask has one foreground class).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 alpha: float = 0.5,
                 pred_color: Color = (255, 48, 48),
                 gt_color: Color = (48, 220, 48),
                 contour: bool = True,
                 font_scale: Optional[float] = None,
                 max_text_lines: Optional[int] = None,
                 **kwargs):
        if max_text_lines is not None and max_text_lines < 1:
            raise ValueError(f'max_text_lines must be >= 1 or None, got {max_text_lines}')
        classes = kwargs.pop('classes', None) or ('background', 'object')
        palette = kwargs.pop('palette', None) or [[0, 0, 0], [255, 255, 255]]
        super().__init__(name=name, image=image, vis_backends=vis_backends,
                         save_dir=save_dir, alpha=alpha, **kwargs)
        # mmseg 1.2.2's __init__ swaps classes and palette: set them here
        self.dataset_meta = dict(classes=tuple(classes), palette=list(palette))
        self.pred_color = tuple(int(c) for c in pred_color)
        self.gt_color = tuple(int(c) for c in gt_color)
        self.contour = contour
        self.font_scale = font_scale
        self.max_text_lines = max_text_lines
        self._warned_glyphs = False

    # --------------------------------------------------------------- drawing
    def _overlay(self, image: np.ndarray, mask: np.ndarray,
                 color: Color) -> np.ndarray:
        out = image.copy()
        if mask.any():
            tint = np.array(color, dtype=np.float32)
            blended = image[mask].astype(np.float32) * (1 - self.alpha) + \
                tint * self.alpha
            out[mask] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
            if self.contour:
                contours, _ = cv2.findContours(
                    mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                    cv2.CHAIN_APPROX_NONE)
                thickness = max(1, min(image.shape[:2]) // 200)
                cv2.drawContours(out, contours, -1, color, thickness)
        return out

    @staticmethod
    def _draw_boxes(panel: np.ndarray, boxes: Sequence[Sequence[float]],
                    color: Color) -> None:
        """Outline each ``[x, y, w, h]`` box on ``panel`` in place: the
        rectangle around its pixels."""
        thickness = max(1, min(panel.shape[:2]) // 200)
        for x, y, w, h in boxes:
            x0, y0 = int(round(x)), int(round(y))
            x1, y1 = int(round(x + w)) - 1, int(round(y + h)) - 1
            cv2.rectangle(panel, (x0, y0), (x1, y1), color, thickness)

    def _scale(self, width: int) -> float:
        if self.font_scale is not None:
            return float(self.font_scale)
        return float(np.clip(width / 600.0, 0.4, 1.2))

    def _drawable(self, text: str) -> str:
        """``text`` with what the font cannot draw replaced: control
        characters by a space, characters without a glyph by
        ``PLACEHOLDER`` (one warning per visualizer)."""
        chars, missing = [], []
        for char in unicodedata.normalize('NFC', str(text)):
            if unicodedata.category(char) == 'Cc':
                chars.append(' ')
            elif _has_glyph(char):
                chars.append(char)
            else:
                chars.append(PLACEHOLDER)
                missing.append(char)
        if missing and not self._warned_glyphs:
            self._warned_glyphs = True
            warnings.warn(
                f'{osp.basename(font_path())} has no glyph for '
                f'{"".join(dict.fromkeys(missing))!r}: drawn as '
                f'{PLACEHOLDER!r} (this warning is given once)', stacklevel=3)
        return ''.join(chars)

    @staticmethod
    def _put_text(image: np.ndarray, lines: List[Tuple[int, int, str]],
                  font: ImageFont.FreeTypeFont, color: Color) -> None:
        """Draw ``(x, y, text)`` lines on ``image`` (H, W, 3) in place;
        (x, y) is the left end of the text's ascender line."""
        canvas = Image.fromarray(image)
        draw = ImageDraw.Draw(canvas)
        for x, y, text in lines:
            draw.text((x, y), text, font=font, fill=tuple(color))
        image[...] = np.asarray(canvas)

    @staticmethod
    def _wrap(text: str, width: int, font: ImageFont.FreeTypeFont
              ) -> List[str]:
        lines, line = [], ''
        for word in text.split():
            trial = f'{line} {word}'.strip()
            if line and font.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        if line:
            lines.append(line)
        return lines or ['']

    @staticmethod
    def _cut(text: str, width: int, font: ImageFont.FreeTypeFont) -> str:
        """The longest start of ``text`` that fits ``width`` with
        ``ELLIPSIS`` after it (found by bisection: any length is cheap)."""
        low, high = 0, len(text)
        while low < high:
            mid = (low + high + 1) // 2
            if font.getlength(text[:mid].rstrip() + ELLIPSIS) <= width:
                low = mid
            else:
                high = mid - 1
        return text[:low].rstrip() + ELLIPSIS

    def _font_and_pad(self, width: int) -> Tuple[ImageFont.FreeTypeFont, int]:
        scale = self._scale(width)
        return text_font(max(6, round(BASE_FONT_PX * scale))), max(4, int(8 * scale))

    def banner_lines(self, width: int, text: str) -> List[str]:
        """The lines the banner of a ``width`` pixels wide canvas writes
        ``text`` in: wrapped at spaces; with ``max_text_lines``, at most
        that many, a line that is cut or too wide for the banner ending with
        ``ELLIPSIS``."""
        font, pad = self._font_and_pad(width)
        inner = width - 2 * pad
        lines = self._wrap(self._drawable(text), inner, font)
        if self.max_text_lines is None:
            return lines
        cut = len(lines) > self.max_text_lines
        lines = lines[:self.max_text_lines]
        return [self._cut(line, inner, font)
                if (cut and k == len(lines) - 1) or font.getlength(line) > inner
                else line for k, line in enumerate(lines)]

    def _caption(self, panel: np.ndarray, caption: str,
                 color: Color) -> np.ndarray:
        """A small label in the panel's top-left corner."""
        scale = self._scale(panel.shape[1]) * 0.8
        font = text_font(max(6, round(BASE_FONT_PX * scale)))
        caption = self._drawable(caption)
        ascent, descent = font.getmetrics()
        pad = 3
        w = min(int(np.ceil(font.getlength(caption))),
                panel.shape[1] - 2 * pad)
        panel[:ascent + descent + 2 * pad, :w + 2 * pad] = 0
        self._put_text(panel, [(pad, pad, caption)], font, color)
        return panel

    def _banner(self, width: int, text: str) -> np.ndarray:
        """(h, width, 3) dark banner with ``text`` in its lines
        (:meth:`banner_lines`); line i is drawn at (pad, pad + i * step)."""
        font, pad = self._font_and_pad(width)
        lines = self.banner_lines(width, text)
        ascent, descent = font.getmetrics()
        step = ascent + descent + pad // 2
        banner = np.full((pad + step * len(lines) + pad // 2, width, 3), 24,
                         dtype=np.uint8)
        self._put_text(banner, [(pad, pad + i * step, line)
                                for i, line in enumerate(lines)],
                       font, (255, 255, 255))
        return banner

    def draw_referring(self,
                       image: np.ndarray,
                       text: Optional[str] = None,
                       pred_mask: Optional[np.ndarray] = None,
                       gt_mask: Optional[np.ndarray] = None,
                       pred_caption: Optional[str] = 'prediction',
                       gt_caption: Optional[str] = 'ground truth',
                       pred_boxes: Optional[Sequence[Sequence[float]]] = None
                       ) -> np.ndarray:
        """Draw masks and the expression; returns the RGB canvas.

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB image.
            text (str, optional): The expression, written above the image.
            pred_mask, gt_mask (np.ndarray, optional): (H', W') masks
                (foreground = > 0, 255 = ignore); resized (nearest) to the
                image if their size differs. With both, the ground truth
                panel is on the left, the prediction on the right.
            pred_caption, gt_caption (str, optional): Panel labels (None: no
                label).
            pred_boxes (Sequence, optional): ``[x, y, w, h]`` boxes (in the
                image's pixels) drawn on the prediction's panel in its colour.
        """
        image = np.ascontiguousarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        image = image[..., :3].astype(np.uint8)
        shape = image.shape[:2]
        panels = []
        for mask, caption, color, boxes in (
                (gt_mask, gt_caption, self.gt_color, None),
                (pred_mask, pred_caption, self.pred_color, pred_boxes)):
            if mask is None:
                continue
            panel = self._overlay(image, _to_mask(mask, shape), color)
            if caption:
                panel = self._caption(panel, caption, color)
            if boxes:  # over the caption: a box is never hidden
                self._draw_boxes(panel, boxes, color)
            panels.append(panel)
        if not panels:
            panels.append(image.copy())
        canvas = np.concatenate(panels, axis=1)
        if text is not None:
            canvas = np.concatenate(
                [self._banner(canvas.shape[1], text), canvas], axis=0)
        self.set_image(canvas)
        return canvas

    # ----------------------------------------------------------- mmseg API
    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw a referring data sample and save it to every backend.

        ``image`` is RGB. The expression comes from
        ``data_sample.metainfo['text']``; ground truth (``gt_sem_seg``) and
        prediction (``pred_sem_seg``) are drawn side by side when both are
        there and asked for. ``name`` gets ``_sent<sent_id>`` appended
        (without the image's file extension) when the sample has a
        ``sent_id``, so the expressions of one image do not overwrite each
        other.
        """
        meta = {} if data_sample is None else data_sample.metainfo
        gt = pred = None
        if data_sample is not None:
            if draw_gt and 'gt_sem_seg' in data_sample:
                gt = data_sample.gt_sem_seg.data
            if draw_pred and 'pred_sem_seg' in data_sample:
                pred = data_sample.pred_sem_seg.data
        pred_caption = gt_caption = None
        if with_labels:
            gt_caption = 'ground truth'
            pred_caption = 'prediction'
            layers = meta.get('afs_layers')
            if layers is not None:
                pred_caption += ' (AFS layers {}, {})'.format(*layers)
        drawn = self.draw_referring(
            image, meta.get('text'), pred_mask=pred, gt_mask=gt,
            pred_caption=pred_caption, gt_caption=gt_caption)
        if meta.get('sent_id') is not None:
            name = f'{osp.splitext(name)[0]}_sent{meta["sent_id"]}'
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
