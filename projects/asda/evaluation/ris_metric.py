"""Referring image segmentation metric: oIoU, mIoU and Precision@X; and, on
request, the REC box accuracy of the predicted masks."""
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS

from ..utils.atomic import write_json
from ..utils.boxes import box_iou, largest_component_box, mask_box

__all__ = ['RISMetric', 'intersection_union', 'summarize_ris', 'rec_box_iou',
           'summarize_rec']

ID_KEYS = ('ref_id', 'sent_id', 'ann_id', 'image_id')


def _get(obj: Any, key: str, default=None):
    """``obj[key]`` for dicts, ``obj.key`` for data elements."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _meta_getter(sample: Any) -> Callable[[str], Any]:
    """``get(key)``: the sample's field ``key``, else its metainfo's."""
    meta = _get(sample, 'metainfo', None) or {}

    def get(key: str) -> Any:
        value = _get(sample, key)
        return meta.get(key) if value is None else value

    return get


def sample_ids(meta_get: Callable[[str], Any]) -> str:
    """'ref_id=.., sent_id=.., ...' of a sample, for error messages."""
    return ', '.join(f'{k}={meta_get(k)}' for k in ID_KEYS
                     if meta_get(k) is not None)


def _pixel_data(sample: Any, key: str) -> Optional[torch.Tensor]:
    field = _get(sample, key)
    if field is None:
        return None
    data = _get(field, 'data')
    if data is None:
        raise ValueError(f'{key} has no data')
    return torch.as_tensor(data)


def _resize_nearest(data: torch.Tensor, size: int) -> torch.Tensor:
    """(H, W) or (1, H, W) map -> (size, size), nearest neighbour."""
    data = data.squeeze()
    if tuple(data.shape) == (size, size):
        return data
    return torch.nn.functional.interpolate(
        data[None, None].float(), size=(size, size), mode='nearest')[0, 0].to(data.dtype)


def intersection_union(pred: torch.Tensor,
                       gt: torch.Tensor,
                       ignore_index: int = 255,
                       foreground: int = 1):
    """Foreground intersection and union of a binary prediction and mask.

    Args:
        pred (Tensor): Prediction, (H, W) or (1, H, W); foreground = > 0.
        gt (Tensor): Ground truth of the same size; ``foreground`` marks the
            object, ``ignore_index`` pixels (padding) are left out.
        ignore_index (int): Ignored ground-truth value.
        foreground (int): Object value in ``gt``.

    Returns:
        tuple[int, int]: I and U in pixels.
    """
    pred = pred.squeeze()
    gt = gt.squeeze()
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and ground truth '
                         f'{tuple(gt.shape)} differ in size')
    valid = gt != ignore_index
    p = (pred > 0) & valid
    g = (gt == foreground) & valid
    return int((p & g).sum()), int((p | g).sum())


def summarize_ris(results: Sequence[dict],
                  iou_thrs: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9)
                  ) -> Dict[str, float]:
    """oIoU, mIoU and Pr@X (percent) from per-expression ``I``, ``U``, ``iou``.

    ``oIoU`` = sum(I) / sum(U); ``mIoU`` = mean IoU; ``Pr@X`` = share of
    expressions with IoU strictly greater than X. An empty result list, or
    an all-empty sum(U), gives nan / 100 respectively.
    """
    ious = np.array([r['iou'] for r in results], dtype=np.float64)
    total_i = sum(int(r['I']) for r in results)
    total_u = sum(int(r['U']) for r in results)
    if len(results) == 0:
        metrics = dict(oIoU=float('nan'), mIoU=float('nan'))
        metrics.update({f'Pr@{t:g}': float('nan') for t in iou_thrs})
        return metrics
    metrics = dict(
        oIoU=100.0 * total_i / total_u if total_u else 100.0,
        mIoU=100.0 * float(ious.mean()))
    for t in iou_thrs:
        metrics[f'Pr@{t:g}'] = 100.0 * float((ious > t).mean())
    return metrics


def rec_box_iou(pred: torch.Tensor, gt: torch.Tensor, ignore_index: int = 255,
                foreground: int = 1) -> dict:
    """REC (referring expression comprehension) from a mask: the box of the
    prediction's largest 8-connected component against the box of the
    ground-truth mask (:mod:`asda.utils.boxes`).

    The referred object's box is the tight box of its ground-truth mask
    (every part of it), not the annotation's ``bbox``: the mask is what the
    pipeline loads for every source (polygons, RLE, converted PNGs), and for
    COCO polygons the two differ by less than a pixel on each side.
    ``ignore_index`` pixels (padding) are left out of both.

    Args:
        pred (Tensor): Prediction, (H, W) or (1, H, W); foreground = > 0.
        gt (Tensor): Ground truth of the same size.
        ignore_index (int): Ignored ground-truth value.
        foreground (int): Object value in ``gt``.

    Returns:
        dict: ``pred_box`` and ``gt_box`` (``[x, y, w, h]`` or None) and
        ``box_iou``: their IoU; 0 for an empty prediction (a miss); for an
        empty ground truth 1 if the prediction is empty too, else 0 (as
        :class:`RISMetric` scores the masks).
    """
    pred, gt = pred.squeeze(), gt.squeeze()
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and ground truth '
                         f'{tuple(gt.shape)} differ in size')
    valid = gt != ignore_index
    pred_box = largest_component_box(((pred > 0) & valid).cpu().numpy())
    gt_box = mask_box(((gt == foreground) & valid).cpu().numpy())
    if gt_box is None:
        iou = 1.0 if pred_box is None else 0.0
    else:
        iou = 0.0 if pred_box is None else box_iou(pred_box, gt_box)
    return dict(pred_box=pred_box, gt_box=gt_box, box_iou=iou)


def summarize_rec(results: Sequence[dict], iou_thr: float = 0.5) -> Dict[str, float]:
    """``Acc@<iou_thr>``: the share of expressions whose ``box_iou`` is at
    least ``iou_thr``, and ``mBoxIoU``: the mean ``box_iou``, in percent
    (nan for no expression)."""
    ious = np.array([r['box_iou'] for r in results], dtype=np.float64)
    if not len(ious):
        return {f'Acc@{iou_thr:g}': float('nan'), 'mBoxIoU': float('nan')}
    return {f'Acc@{iou_thr:g}': 100.0 * float((ious >= iou_thr).mean()),
            'mBoxIoU': 100.0 * float(ious.mean())}


@METRICS.register_module()
class RISMetric(BaseMetric):
    """Referring segmentation metric over mmseg data samples.

    Consumes ``pred_sem_seg`` (binary, foreground > 0) and ``gt_sem_seg``
    (0/1, ``ignore_index`` = padding) at the same (original) size; per
    expression keeps I and U in pixels and IoU = I / U (1 when prediction and
    mask are both empty). Reports, in percent:

    * ``oIoU``: sum(I) / sum(U) over all expressions (mmdet's cIoU),
    * ``mIoU``: mean per-expression IoU,
    * ``Pr@X`` for X in ``iou_thrs``: share of expressions with IoU > X.

    With ``rec=True`` it also reports the REC box accuracy PolyFormer and
    others give beside the masks (:func:`rec_box_iou`: the box of the
    predicted mask's largest 8-connected component against the box of the
    ground-truth mask, at the original size whatever ``score_size``):

    * ``Acc@0.5`` (``rec_iou_thr``): share of expressions whose box IoU is
      at least 0.5 (an empty prediction is a miss),
    * ``mBoxIoU``: mean box IoU.

    Args:
        iou_thrs (Sequence[float]): Precision thresholds.
        ignore_index (int): Ground-truth value left out. Defaults to 255.
        score_size (int, optional): None (default): score at the original
            image size (CRIS / the ASDA release). An int S: resize the
            prediction and the mask (nearest) to S x S before scoring, the
            fixed-square protocol of LAVT and ReLA (480), so that figures can
            be compared with theirs.
        out_file (str, optional): If set, rank 0 writes a JSON object there,
            atomically: ``records``, one per expression (ref_id, sent_id,
            ann_id, image_id, text, I, U, IoU); ``evaluated`` and ``total``
            expression counts; ``skipped``, the samples the dataset left out
            for bad images (``skip_bad_samples``) with the reason. With
            ``rec``, each record also has ``pred_box``, ``gt_box`` and
            ``box_iou``.
        rec (bool): Also report the REC accuracy (``Acc@X``, ``mBoxIoU``).
            Defaults to False.
        rec_iou_thr (float): The box IoU a hit needs. Defaults to 0.5.
        collect_device (str): 'cpu' or 'gpu', see ``BaseMetric``.
        prefix (str, optional): Metric name prefix.
        collect_dir (str, optional): Temporary folder for cpu collection.
    """
    # '' (not None): metric names stay 'oIoU', 'mIoU', ... without a prefix,
    # and BaseMetric does not warn that no prefix is set.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 iou_thrs: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
                 ignore_index: int = 255,
                 out_file: Optional[str] = None,
                 score_size: Optional[int] = None,
                 rec: bool = False,
                 rec_iou_thr: float = 0.5,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.iou_thrs = tuple(float(t) for t in iou_thrs)
        for t in self.iou_thrs:
            if not 0 <= t < 1:
                raise ValueError(f'iou_thrs must lie in [0, 1), got {t}')
        self.ignore_index = ignore_index
        self.out_file = out_file
        if score_size is not None and (not isinstance(score_size, int)
                                       or score_size < 1):
            raise ValueError(f'score_size must be a positive int or None, got '
                             f'{score_size!r}')
        self.score_size = score_size
        if not isinstance(rec, bool):
            raise ValueError(f'rec must be a bool, got {rec!r}')
        if not 0 < rec_iou_thr <= 1:
            raise ValueError(f'rec_iou_thr must lie in (0, 1], got {rec_iou_thr!r}')
        self.rec = rec
        self.rec_iou_thr = float(rec_iou_thr)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep I, U, IoU and the ids of every sample (small records)."""
        for sample in data_samples:
            meta_get = _meta_getter(sample)
            pred = _pixel_data(sample, 'pred_sem_seg')
            gt = _pixel_data(sample, 'gt_sem_seg')
            if pred is None or gt is None:
                where = sample_ids(meta_get) or 'sample without ids'
                raise ValueError(f'{type(self).__name__} needs pred_sem_seg '
                                 f'and gt_sem_seg ({where})')
            self.results.append(self._record(pred, gt, meta_get))

    def _record(self, pred: torch.Tensor, gt: torch.Tensor,
                meta_get: Callable[[str], Any]) -> dict:
        """One expression's record: ids, I, U, IoU (and text with an
        ``out_file``), scored at ``score_size`` when set.

        Args:
            pred (Tensor): Prediction at the original size, (H, W) or (1, H, W).
            gt (Tensor): Ground truth of the same size.
            meta_get (Callable): The sample's field or metainfo value by key.
        """
        record = {k: meta_get(k) for k in ID_KEYS}
        try:
            if self.rec:  # at the original size
                record.update(rec_box_iou(pred, gt, self.ignore_index))
            if self.score_size is not None:
                pred, gt = (_resize_nearest(x, self.score_size) for x in (pred, gt))
            i, u = intersection_union(pred, gt, self.ignore_index)
        except ValueError as err:
            raise ValueError(f'{err} ({sample_ids(meta_get)}, image '
                             f'{meta_get("img_path")})') from err
        record.update(I=i, U=u, iou=i / u if u else 1.0)
        if self.out_file is not None:
            record['text'] = meta_get('text')
        return record

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics = self.summarize(results)
        # samples the dataset dropped for bad images (skip_bad_samples)
        skipped = list((self.dataset_meta or {}).get('skipped_samples') or [])
        self._log_table(metrics, len(results), skipped)
        if self.out_file is not None:
            self._dump(results, skipped)
        return metrics

    def summarize(self, results: List[dict]) -> Dict[str, float]:
        """The metrics of the collected records (:func:`summarize_ris`, and
        :func:`summarize_rec` with ``rec``)."""
        metrics = summarize_ris(results, self.iou_thrs)
        if self.rec:
            metrics.update(summarize_rec(results, self.rec_iou_thr))
        return metrics

    def _log_table(self, metrics: Dict[str, float], num: int,
                   skipped: List[dict]) -> None:
        from prettytable import PrettyTable

        table = PrettyTable()
        table.field_names = ['expressions'] + list(metrics)
        total = num + len(skipped)
        count = f'{num} of {total}' if skipped else num
        table.add_row([count] + [f'{v:.2f}' for v in metrics.values()])
        print_log('\n' + table.get_string(), logger='current')
        if skipped:
            print_log(
                f'evaluated {num} of {total} expressions: {len(skipped)} '
                f'skipped for bad images: ' + '; '.join(
                    f'{s["img_path"]} (ref_id={s["ref_id"]}, '
                    f'sent_id={s.get("sent_id")}): {s["reason"]}'
                    for s in skipped), logger='current', level=30)

    def _dump(self, results: List[dict], skipped: List[dict]) -> None:
        records = [self._dump_record(r) for r in results]
        report = dict(
            evaluated=len(records), total=len(records) + len(skipped),
            skipped=skipped, records=records)
        write_json(self.out_file, report, indent=None, default=_json_default)
        print_log(f'per-expression results written to {self.out_file}',
                  logger='current')

    def _dump_record(self, result: dict) -> dict:
        """One expression's entry in the ``out_file`` records."""
        entry = dict(
            ref_id=result.get('ref_id'),
            sent_id=result.get('sent_id'),
            ann_id=result.get('ann_id'),
            image_id=result.get('image_id'),
            text=result.get('text'),
            I=int(result['I']),
            U=int(result['U']),
            IoU=float(result['iou']))
        if self.rec:
            entry.update(pred_box=result['pred_box'], gt_box=result['gt_box'],
                         box_iou=float(result['box_iou']))
        return entry


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    raise TypeError(f'{type(obj).__name__} is not JSON serializable')
