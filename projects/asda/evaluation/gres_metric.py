"""Generalized referring segmentation metric (GRES / gRefCOCO): gIoU, cIoU,
N-acc, T-acc and Precision@X.

An expression refers to one object, to several (one union mask) or to none
("no target", an empty mask). The per-expression pixels I and U are
:func:`~asda.evaluation.intersection_union`'s, as for :class:`RISMetric`;
what GRES adds is the no-target decision on both sides:

* ground truth: the sample's metainfo ``no_target``, else an empty mask;
* prediction: "no target" iff the predicted mask is empty at the original
  size (:func:`predicted_no_target`, the one owner of that rule).
"""
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmseg.registry import METRICS

from ..utils.labels import no_target_label
from .ris_metric import RISMetric, sample_ids

__all__ = ['GRESMetric', 'expression_giou', 'predicted_no_target',
           'summarize_gres']


def predicted_no_target(pred: torch.Tensor) -> bool:
    """Whether a prediction says "no target": its mask (foreground > 0) is
    empty.

    Args:
        pred (Tensor): Predicted mask at the original size, (H, W) or
            (1, H, W).
    """
    return not bool((pred > 0).any())


def expression_giou(record: dict) -> float:
    """One expression's term of gIoU (and the IoU Pr@X counts), in [0, 1].

    A no-target expression scores 1 if predicted no-target, else 0; a target
    expression predicted no-target scores 0; any other, I / U.

    Args:
        record (dict): ``I``, ``U`` (pixels), ``no_target`` (ground truth)
            and ``pred_no_target`` (bool).
    """
    if record['no_target']:
        return 1.0 if record['pred_no_target'] else 0.0
    if record['pred_no_target'] or not record['U']:
        return 0.0
    return int(record['I']) / int(record['U'])


def summarize_gres(records: Sequence[dict],
                   iou_thrs: Sequence[float] = (0.7, 0.8, 0.9)
                   ) -> Dict[str, float]:
    """gIoU, cIoU, N-acc, T-acc and Pr@X (percent), as the GRES paper
    defines them, from per-expression records.

    * ``gIoU``: mean of :func:`expression_giou` over all expressions;
    * ``cIoU``: sum(I) / sum(U) over all expressions (100 when sum(U) is 0:
      nothing predicted and nothing to find);
    * ``N-acc``: share of no-target expressions predicted no-target;
    * ``T-acc``: share of target expressions not predicted no-target;
    * ``Pr@X``: share of target expressions whose IoU is >= X.

    A share with no expression to count (e.g. N-acc without no-target
    expressions) is nan.

    Args:
        records (Sequence[dict]): One per expression, with ``I``, ``U``,
            ``no_target`` and ``pred_no_target``: :class:`GRESMetric`'s
            results or the records of its ``out_file``.
        iou_thrs (Sequence[float]): Precision thresholds.

    Returns:
        dict[str, float]: ``gIoU``, ``cIoU``, ``N-acc``, ``T-acc``, then
        ``Pr@X`` for each X.
    """
    nan = float('nan')

    def percent(flags) -> float:
        return 100.0 * float(np.mean(flags)) if len(flags) else nan

    scores = [expression_giou(r) for r in records]
    total_i = sum(int(r['I']) for r in records)
    total_u = sum(int(r['U']) for r in records)
    no_target = [bool(r['pred_no_target']) for r in records if r['no_target']]
    target = [(bool(r['pred_no_target']), s) for r, s in zip(records, scores)
              if not r['no_target']]
    metrics = {
        'gIoU': percent(scores),
        'cIoU': (100.0 * total_i / total_u if total_u else 100.0)
        if records else nan,
        'N-acc': percent(no_target),
        'T-acc': percent([not pred_nt for pred_nt, _ in target]),
    }
    for t in iou_thrs:
        metrics[f'Pr@{t:g}'] = percent([s >= t for _, s in target])
    return metrics


@METRICS.register_module()
class GRESMetric(RISMetric):
    """Generalized referring segmentation metric over mmseg data samples.

    Consumes what :class:`RISMetric` does (``pred_sem_seg`` and
    ``gt_sem_seg`` at the original size, 1 = object) plus the metainfo ``no_target``
    (bool; when absent, an empty ground-truth mask means no target) and, if
    the sample has it, the field ``no_target_score`` (the model's no-target
    probability, a 0-dim tensor or float; recorded, not scored). Reports, in
    percent, :func:`summarize_gres`'s gIoU, cIoU, N-acc, T-acc and Pr@X
    (IoU >= X, over target expressions).

    Per expression, I and U are :func:`intersection_union`'s: a target
    expression predicted no-target adds I = 0 and its mask's area to U, a
    no-target expression predicted with a mask adds I = 0 and that mask's
    area. Whether the prediction is no-target is decided at the original
    size (:func:`predicted_no_target`), also with ``score_size``.

    Args:
        iou_thrs (Sequence[float]): Precision thresholds. Defaults to
            (0.7, 0.8, 0.9), as GRES.
        ignore_index (int): Ground-truth value left out. Defaults to 255.
        out_file (str, optional): As :class:`RISMetric`'s; each record also
            carries ``no_target`` (ground truth), ``pred_no_target`` and, when
            the sample has it, ``no_target_score``; ``IoU`` is the
            expression's gIoU term (:func:`expression_giou`).
        score_size (int, optional): As :class:`RISMetric`'s. None (default):
            score at the original size.
        collect_device (str): 'cpu' or 'gpu', see ``BaseMetric``.
        prefix (str, optional): Metric name prefix.
        collect_dir (str, optional): Temporary folder for cpu collection.
    """

    def __init__(self,
                 iou_thrs: Sequence[float] = (0.7, 0.8, 0.9),
                 ignore_index: int = 255,
                 out_file: Optional[str] = None,
                 score_size: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            iou_thrs=iou_thrs,
            ignore_index=ignore_index,
            out_file=out_file,
            score_size=score_size,
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)

    def _record(self, pred: torch.Tensor, gt: torch.Tensor,
                meta_get: Callable[[str], Any]) -> dict:
        """:class:`RISMetric`'s record (ids, I, U) with ``no_target``,
        ``pred_no_target``, ``no_target_score`` (if any) and the gIoU term as
        ``iou``."""
        pred_no_target = predicted_no_target(pred)
        no_target = _gt_no_target(gt, meta_get)
        record = super()._record(pred, gt, meta_get)
        record.update(no_target=no_target, pred_no_target=pred_no_target)
        score = meta_get('no_target_score')
        if score is not None:
            record['no_target_score'] = _as_float(score, meta_get)
        record['iou'] = expression_giou(record)
        return record

    def summarize(self, results: List[dict]) -> Dict[str, float]:
        """The metrics of the collected records (:func:`summarize_gres`)."""
        return summarize_gres(results, self.iou_thrs)

    def _dump_record(self, result: dict) -> dict:
        entry = super()._dump_record(result)
        entry.update(no_target=bool(result['no_target']),
                     pred_no_target=bool(result['pred_no_target']))
        if 'no_target_score' in result:
            entry['no_target_score'] = float(result['no_target_score'])
        return entry


def _gt_no_target(gt: torch.Tensor, meta_get: Callable[[str], Any]) -> bool:
    """The ground truth's no-target flag (:func:`asda.utils.labels.
    no_target_label`: metainfo ``no_target``, else an empty mask)."""
    has_object = bool((gt == 1).any())  # 1: the object, as intersection_union
    return no_target_label(meta_get('no_target'), has_object,
                           f'{sample_ids(meta_get)}, image {meta_get("img_path")}')


def _as_float(score: Any, meta_get: Callable[[str], Any]) -> float:
    """``no_target_score`` (0-dim tensor, one-element tensor or number) as a
    float."""
    value = torch.as_tensor(score)
    if value.numel() != 1:
        raise ValueError('no_target_score must be one number, got shape '
                         f'{tuple(value.shape)} ({sample_ids(meta_get)})')
    return float(value.item())
