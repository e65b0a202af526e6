"""Visualizer for referring segmentation: the expression on the image.

:class:`RISLocalVisualizer` is mmseg's ``SegLocalVisualizer`` for one binary
mask per sample: the object (prediction and/or ground truth) is tinted and
outlined on the image, and the expression (``metainfo['text']``) is written
in a banner above it. ``tools/test.py --show-dir DIR`` uses it through
mmseg's ``SegVisualizationHook`` (``visualizer = dict(type=
'RISLocalVisualizer', ...)`` in the runtime config); one file is written per
expression (the name carries the ``sent_id``), not one per image.

Text is drawn with OpenCV's Hershey font, which covers ASCII only: other
characters are written as ``?``.
"""
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmseg.registry import VISUALIZERS
from mmseg.visualization import SegLocalVisualizer

__all__ = ['RISLocalVisualizer']

_FONT = cv2.FONT_HERSHEY_SIMPLEX
Color = Tuple[int, int, int]


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


def _ascii(text: str) -> str:
    return ''.join(c if 32 <= ord(c) < 127 else '?' for c in str(text))


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
        font_scale (float, optional): OpenCV font scale of the expression;
            None: from the image size.
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
                 **kwargs):
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

    def _scale(self, width: int) -> float:
        if self.font_scale is not None:
            return float(self.font_scale)
        return float(np.clip(width / 600.0, 0.4, 1.2))

    @staticmethod
    def _wrap(text: str, width: int, scale: float, thickness: int
              ) -> List[str]:
        lines, line = [], ''
        for word in text.split():
            trial = f'{line} {word}'.strip()
            if line and cv2.getTextSize(trial, _FONT, scale,
                                        thickness)[0][0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        if line:
            lines.append(line)
        return lines or ['']

    def _caption(self, panel: np.ndarray, caption: str,
                 color: Color) -> np.ndarray:
        """A small label in the panel's top-left corner."""
        scale = self._scale(panel.shape[1]) * 0.8
        thickness = 1
        (w, h), base = cv2.getTextSize(caption, _FONT, scale, thickness)
        pad = 3
        w = min(w, panel.shape[1] - 2 * pad)
        cv2.rectangle(panel, (0, 0), (w + 2 * pad, h + base + 2 * pad),
                      (0, 0, 0), -1)
        cv2.putText(panel, caption, (pad, h + pad), _FONT, scale, color,
                    thickness, cv2.LINE_AA)
        return panel

    def _banner(self, width: int, text: str) -> np.ndarray:
        scale = self._scale(width)
        thickness = 1 if scale < 0.8 else 2
        pad = max(4, int(8 * scale))
        lines = self._wrap(_ascii(text), width - 2 * pad, scale, thickness)
        (_, h), base = cv2.getTextSize('Ag', _FONT, scale, thickness)
        step = h + base + pad // 2
        banner = np.full((pad + step * len(lines) + pad // 2, width, 3), 24,
                         dtype=np.uint8)
        for i, line in enumerate(lines):
            cv2.putText(banner, line, (pad, pad + h + i * step), _FONT, scale,
                        (255, 255, 255), thickness, cv2.LINE_AA)
        return banner

    def draw_referring(self,
                       image: np.ndarray,
                       text: Optional[str] = None,
                       pred_mask: Optional[np.ndarray] = None,
                       gt_mask: Optional[np.ndarray] = None,
                       pred_caption: Optional[str] = 'prediction',
                       gt_caption: Optional[str] = 'ground truth'
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
        """
        image = np.ascontiguousarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        image = image[..., :3].astype(np.uint8)
        shape = image.shape[:2]
        panels = []
        for mask, caption, color in ((gt_mask, gt_caption, self.gt_color),
                                     (pred_mask, pred_caption, self.pred_color)):
            if mask is None:
                continue
            panel = self._overlay(image, _to_mask(mask, shape), color)
            if caption:
                panel = self._caption(panel, caption, color)
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
