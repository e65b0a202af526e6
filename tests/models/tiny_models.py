"""Builders shared by the model tests: a small random-init CLIP (the same
open_clip code path as ViT-B/16) and the full referring segmentor, both read
from ``configs/asda/_base_/models/asda_tiny-clip.py``."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import asda  # noqa: F401  (registers the components)

TINY_CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs',
                       'asda', '_base_', 'models', 'asda_tiny-clip.py')
_TINY_MODEL = Config.fromfile(TINY_CONFIG).model.to_dict()


def tiny_clip_cfg():
    """The tiny CLIP's open_clip config (``model.backbone.model_cfg``)."""
    return copy.deepcopy(_TINY_MODEL['backbone']['model_cfg'])


def tiny_segmentor_cfg(img_size=64, context_length=17, **head_overrides):
    """The tiny-CLIP ASDA at ``img_size`` with 16 masks (faster tests)."""
    model = copy.deepcopy(_TINY_MODEL)
    model['data_preprocessor'].update(
        size=(img_size, img_size), test_cfg=dict(size=(img_size, img_size)))
    model['backbone'].update(img_size=img_size, context_length=context_length)
    model['decode_head'].update(num_masks=16, **head_overrides)
    return model


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


def small_head(**kwargs):
    """A small WGDAHead (d_model 32, text width 24, 8 masks) for head tests."""
    from asda.models.decode_heads import WGDAHead
    cfg = dict(in_channels=32, text_channels=24, num_layers=1, num_heads=4,
               dropout=0.0, decoder_channels=(16, 16, 8), num_masks=8,
               coef_channels=16)
    cfg.update(kwargs)
    return WGDAHead(**cfg)
