"""Builders shared by the model tests: a small random-init CLIP (the same
open_clip code path as ViT-B/16) and the full referring segmentor."""
import copy

import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import asda  # noqa: F401  (registers the components)

CLIP_MEAN = [122.7709383, 116.7460125, 104.09373615]
CLIP_STD = [68.5005327, 66.6321579, 70.32316305]

TINY_CLIP = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=224, layers=6, width=128, head_width=32,
                    patch_size=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=4,
                  layers=4))


def tiny_clip_cfg():
    return copy.deepcopy(TINY_CLIP)


def tiny_segmentor_cfg(img_size=64, context_length=17, **head_overrides):
    head = dict(type='WGDAHead', in_channels=64, text_channels=64,
                num_layers=2, num_heads=4, dropout=0.0,
                decoder_channels=(32, 16, 16), num_masks=16, coef_channels=32)
    head.update(head_overrides)
    return dict(
        type='ReferringEncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=CLIP_MEAN, std=CLIP_STD,
            bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
            size=(img_size, img_size), test_cfg=dict(size=(img_size, img_size))),
        backbone=dict(type='CLIPBackbone', model_cfg=tiny_clip_cfg(),
                      img_size=img_size, context_length=context_length,
                      out_indices=(2, 3, 4, 5, 6)),
        neck=dict(type='AFSF', in_channels=128, text_channels=64,
                  low_layers=(2, 3), mid_layers=(4, 5), top_layer=6,
                  d_model=64, lateral_channels=16),
        decode_head=head,
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def build_segmentor(cfg):
    init_default_scope('mmseg')
    from mmseg.registry import MODELS
    return MODELS.build(cfg)


def make_sample(text, gt=None, **meta):
    sample = SegDataSample()
    sample.set_metainfo(dict(text=text, **meta))
    if gt is not None:
        sample.gt_sem_seg = PixelData(data=torch.as_tensor(gt)[None].long())
    return sample

