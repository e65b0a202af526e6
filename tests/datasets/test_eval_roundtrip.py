"""Test pipeline -> mmseg SegDataPreProcessor -> postprocess_result -> metric.

A prediction equal to the (resized, padded) ground truth must come back at
the original size and score IoU close to 1: the metainfo the pipeline writes
(ori_shape, img_shape, flip) and the preprocessor's padding agree.
"""
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

import asda  # noqa: F401  (mmcv-lite compat before mmseg.models)
from asda.evaluation import RISMetric

SIZE = (224, 224)  # about the synthetic images' size: little resampling loss


@pytest.fixture
def preprocessor():
    from mmseg.models.data_preprocessor import SegDataPreProcessor
    return SegDataPreProcessor(
        mean=[0, 0, 0], std=[1, 1, 1], size=SIZE,
        test_cfg=dict(size=SIZE), seg_pad_val=255)


def test_test_time_roundtrip(synthetic, build_dataset, preprocessor):
    from mmseg.models.segmentors.base import BaseSegmentor

    root, _ = synthetic
    ds = build_dataset(root, split='val', test_mode=True, pipeline=[
        dict(type='LoadReferringImage'),
        dict(type='ReferringResize', scale=SIZE, keep_ratio=True),
        dict(type='LoadReferringAnnotations'),
        dict(type='PackReferringInputs'),
    ])
    metric = RISMetric()
    for i in range(len(ds)):
        batch = preprocessor(pseudo_collate([ds[i]]), training=False)
        assert batch['inputs'].shape[-2:] == SIZE
        sample = batch['data_samples'][0]
        gt = sample.gt_sem_seg.data[0].numpy().astype(np.uint8)
        assert gt.shape == sample.ori_shape  # original size
        h, w = sample.img_shape
        # A perfect prediction at network resolution, zero-padded.
        logit = np.full(SIZE, -10.0, np.float32)
        logit[:h, :w] = np.where(
            cv2.resize(gt, (w, h), interpolation=cv2.INTER_NEAREST) > 0,
            10.0, -10.0)
        fake_model = SimpleNamespace(
            align_corners=False, decode_head=SimpleNamespace(threshold=0.5))
        out = BaseSegmentor.postprocess_result(
            fake_model, torch.from_numpy(logit)[None, None], [sample])
        assert out[0].pred_sem_seg.shape == sample.ori_shape
        metric.process({}, [out[0].to_dict()])
    ious = [r['iou'] for r in metric.results]
    assert min(ious) > 0.85  # resampling (nearest, bilinear) costs a little
    assert metric.compute_metrics(metric.results)['oIoU'] > 90


def test_train_batch_padding(synthetic, build_dataset, preprocessor):
    root, _ = synthetic
    ds = build_dataset(root, pipeline=[
        dict(type='LoadReferringImage'),
        dict(type='LoadReferringAnnotations'),
        dict(type='ReferringRandomFlip', prob=0.5),
        dict(type='ReferringResize', scale=SIZE, keep_ratio=True),
        dict(type='PackReferringInputs'),
    ])
    batch = preprocessor(pseudo_collate([ds[i] for i in range(4)]),
                         training=True)
    assert batch['inputs'].shape == (4, 3) + SIZE
    for sample in batch['data_samples']:
        gt = sample.gt_sem_seg.data
        assert gt.shape[-2:] == SIZE
        h, w = sample.img_shape
        assert set(gt[0, :h, :w].unique().tolist()) <= {0, 1}
        assert (gt[0, h:, :] == 255).all() and (gt[0, :, w:] == 255).all()
        assert isinstance(sample.text, str)
