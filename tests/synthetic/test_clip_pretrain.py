"""Contrastive pretraining of the tiny CLIP (stage one of the demo,
asda.synthetic.clip_pretrain): a short run learns, the checkpoint loads into
CLIPBackbone like OpenAI's weights."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from asda.models.backbones import CLIPBackbone
from asda.models.backbones.clip_weights import convert_clip_state_dict, read_clip_state_dict
from asda.synthetic import clip_pretrain as cp
from asda.synthetic.captions import CaptionStream

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs/asda/_base_/models/asda_tiny-clip.py')


@pytest.mark.slow
def test_short_run_beats_shuffled_captions():
    """The demo's tiny CLIP at 64 x 64 input (4 x 4 tokens), 40 steps of 24:
    the held-out loss falls below that of the same model on shuffled
    captions. (A still smaller CLIP, 2 visual layers of width 64, collapses
    to constant features, loss ln(B), in as many steps.)"""
    backbone_cfg = Config.fromfile(TINY).model.backbone
    backbone_cfg.img_size = 64
    torch.manual_seed(0)
    model, tokenizer = cp.build_pretrain_clip(backbone_cfg)
    heldout = cp.heldout_set(seed=7, num=24, img_size=64)
    assert len(set(heldout['captions'])) == 24
    untrained = cp.evaluate_zero_shot(model, tokenizer, heldout)
    stream = CaptionStream(seed=3, batch_size=24, twin_share=0, img_size=64)
    history = cp.train_steps(model, tokenizer, stream, steps=40, lr=5e-4,
                             log_every=10, log=lambda msg: None)
    assert [s for s, _ in history] == [10, 20, 30, 40]
    figures = cp.evaluate_zero_shot(model, tokenizer, heldout)
    assert figures['chance_top1'] == pytest.approx(100 / 24)
    assert figures['loss'] < figures['loss_shuffled'] - 0.03, figures
    assert figures['loss'] < untrained['loss'] - 0.1
    for key in ('retrieval_top1', 'shape_negative_acc', 'position_negative_acc'):
        assert 0 <= figures[key] <= 100


def test_checkpoint_loads_into_clip_backbone(tmp_path):
    """The demo's tiny CLIP: an fp16 open_clip file under 20 MB whose
    converted keys are exactly the backbone's, loaded by init_weights."""
    backbone_cfg = Config.fromfile(TINY).model.backbone
    torch.manual_seed(1)
    model, _ = cp.build_pretrain_clip(backbone_cfg)
    path = str(tmp_path / 'tiny_clip.pt')
    cp.save_open_clip(model, path)
    assert osp.getsize(path) <= 20 * 2**20
    state = read_clip_state_dict(path)
    assert all(v.dtype == torch.float16 for v in state.values()
               if v.is_floating_point())
    assert state['positional_embedding'].shape[0] == 77  # open_clip's context
    assert 'logit_scale' in state and 'visual.proj' in state

    cfg = {k: v for k, v in backbone_cfg.items() if k != 'type'}
    backbone = CLIPBackbone(**dict(cfg, pretrained=path))
    converted = convert_clip_state_dict(
        state, num_blocks=len(backbone.visual.transformer.resblocks),
        grid_size=backbone.grid_size, context_length=backbone.context_length)
    assert set(converted) == set(backbone.state_dict())  # none missing / extra
    before = backbone.visual.conv1.weight.detach().clone()
    backbone.init_weights()
    loaded = backbone.visual.conv1.weight.detach()
    assert not torch.equal(before, loaded)
    assert torch.equal(loaded, model.visual.conv1.weight.detach().half().float())
    assert torch.equal(backbone.text.token_embedding.weight.detach(),
                       model.token_embedding.weight.detach().half().float())


def test_lr_schedule():
    lrs = [cp.lr_at(s, 100, 1.0, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.01
