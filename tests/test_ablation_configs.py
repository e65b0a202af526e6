"""Every ablation config (configs/asda/ablations/**) builds and trains one
step, with its backbone swapped for a small random-init CLIP of the same
depth (12 layers for the ViT-B/16 configs, the tiny CLIP's 6 for the
synthetic ones) at 64 x 64 and batch 2: the config's own neck, head, loss
and optimiser settings run."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import asda  # noqa: F401  (registers the components)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ABLATIONS = sorted(glob.glob(osp.join(ROOT, 'configs/asda/ablations/**/*.py'),
                             recursive=True))
TINY_MODEL = Config.fromfile(
    osp.join(ROOT, 'configs/asda/_base_/models/asda_tiny-clip.py')).model
SIZE, GRID = 64, 4  # input side, token grid (patch 16)


def tiny_override(model: dict) -> dict:
    """The config's model with a small CLIP of the backbone's depth."""
    model = copy.deepcopy(model)
    depth = max(model['backbone']['out_indices'])
    clip_cfg = copy.deepcopy(TINY_MODEL.backbone.model_cfg.to_dict())
    clip_cfg['vision_cfg']['layers'] = depth
    model['backbone'] = dict(
        type='CLIPBackbone', model_cfg=clip_cfg, pretrained=None, img_size=SIZE,
        context_length=model['backbone']['context_length'],
        out_indices=model['backbone']['out_indices'])
    width, text_width = clip_cfg['vision_cfg']['width'], clip_cfg['embed_dim']
    model['neck'].update(in_channels=width, text_channels=text_width)
    head = model['decode_head']
    head['text_channels'] = text_width
    if head.get('coef_grid') is not None:
        head['coef_grid'] = (GRID, GRID)
    model['data_preprocessor'].update(size=(SIZE, SIZE),
                                      test_cfg=dict(size=(SIZE, SIZE)))
    return model


def _batch():
    rng = np.random.default_rng(0)
    inputs, samples = [], []
    for text in ('the red circle on the left', 'big blue square'):
        gt = np.zeros((SIZE, SIZE), np.int64)
        gt[10:40, 8:30] = 1
        sample = SegDataSample()
        sample.set_metainfo(dict(text=text, img_shape=(SIZE, SIZE),
                                 ori_shape=(SIZE, SIZE)))
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
        samples.append(sample)
        inputs.append(torch.from_numpy(
            rng.integers(0, 255, (3, SIZE, SIZE), dtype=np.uint8)))
    return dict(inputs=inputs, data_samples=samples)


def test_every_ablation_is_collected():
    names = {osp.basename(p) for p in ABLATIONS}
    assert len(ABLATIONS) == 30
    assert {'table2_a_baseline_refcoco.py', 'coef-flatten_10e_refcoco.py',
            'table2_e_single-branch_tiny_synthetic.py'} <= names


@pytest.mark.parametrize('path', ABLATIONS,
                         ids=[osp.relpath(p, ROOT) for p in ABLATIONS])
def test_ablation_trains_one_step(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(tiny_override(cfg.model.to_dict()))
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = model.train_step(_batch(), optim_wrapper)
    assert {'decode.loss_focal', 'decode.loss_dice'} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    changed = {n.split('.')[0] for n, p in model.named_parameters()
               if not torch.equal(p.detach(), before[n])}
    assert changed == {'backbone', 'neck', 'decode_head'}
