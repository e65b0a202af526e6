"""AFSF neck: AFS learns to pick the informative layer; SFA shapes."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from model_parts import afs_probs

from asda.models.necks import AFSF

C, D, S = 16, 8, 8
LAYERS = (1, 2, 3, 4, 5, 6, 7)
SIGNAL_LAYER = 3  # low candidates (1, 2, 3): only layer 3 carries the target


def _neck(selection, **kwargs):
    return AFSF(in_channels=C, text_channels=D, low_layers=(1, 2, 3),
                mid_layers=(4, 5, 6), top_layer=7, d_model=16,
                lateral_channels=8, selection=selection, **kwargs)


def _toy_batch(direction, batch=16, size=S):
    """Fresh noise in every layer; layer 3 also holds a coarse pattern."""
    pattern = torch.randint(0, 2, (batch, 1, size // 4, size // 4)).float() * 2 - 1
    pattern = F.interpolate(pattern, scale_factor=4, mode='nearest')
    feats = [torch.randn(batch, C, size, size) for _ in LAYERS]
    feats[SIGNAL_LAYER - 1] = (0.5 * feats[SIGNAL_LAYER - 1]
                               + pattern * direction[None, :, None, None])
    inputs = dict(
        visual_feats=feats,
        cls_tokens=[torch.randn(batch, C) for _ in LAYERS],
        layers=LAYERS,
        word_feats=torch.randn(batch, 3, D),
        word_mask=torch.zeros(batch, 3, dtype=torch.bool),
        sent_feat=torch.randn(batch, D))
    return inputs, (pattern > 0).float()


def _train(neck, steps=150, lr=1e-2):
    readout = nn.Conv2d(16, 1, 1)
    opt = torch.optim.Adam(list(neck.parameters()) + list(readout.parameters()),
                           lr=lr)
    direction = F.normalize(torch.randn(C), dim=0) * 3
    for _ in range(steps):
        inputs, target = _toy_batch(direction)
        loss = F.binary_cross_entropy_with_logits(
            readout(neck(inputs)['feat']), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    neck.eval()
    inputs = _toy_batch(direction)[0]
    with torch.no_grad():
        return neck(inputs), afs_probs(neck, inputs)


@pytest.mark.parametrize('selection', ['straight_through', 'gumbel', 'soft'])
def test_selector_converges_to_the_informative_layer(selection):
    out, probs = _train(_neck(selection))
    low_layers = out['afs_layers'][:, 0]
    assert low_layers.eq(SIGNAL_LAYER).all(), low_layers.tolist()
    probs = probs[0]  # (B, 3) over layers 1, 2, 3
    assert probs.argmax(-1).eq(SIGNAL_LAYER - 1).all()
    # mid group: the chosen layer numbers are reported from its candidates
    assert set(out['afs_layers'][:, 1].tolist()) <= {4, 5, 6}


def test_hard_selection_gives_the_selector_no_gradient():
    neck = _neck('hard')
    inputs, target = _toy_batch(torch.randn(C))
    out = neck(inputs)
    F.binary_cross_entropy_with_logits(out['feat'].mean(1, keepdim=True),
                                       target).backward()
    for module in (neck.low_selector, neck.mid_selector, neck.cls_proj):
        assert all(p.grad is None for p in module.parameters())
    assert neck.aggregate.weight.grad is not None
    # straight-through: the same selectors do receive a gradient
    neck = _neck('straight_through')
    out = neck(inputs)
    out['feat'].sum().backward()
    assert neck.low_selector.net.weight.grad.abs().sum() > 0
    assert neck.cls_proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('selector', ['linear', 'conv', 'mlp'])
@pytest.mark.parametrize('pyramid', ['paper', 'release'])
def test_shapes_any_grid(selector, pyramid):
    neck = _neck('straight_through', selector=selector, pyramid=pyramid).eval()
    for h, w in [(8, 8), (6, 10), (13, 7)]:
        inputs, _ = _toy_batch(torch.randn(C), batch=2, size=8)
        inputs['visual_feats'] = [torch.randn(2, C, h, w) for _ in LAYERS]
        out = neck(inputs)
        assert out['feat'].shape == (2, 16, h, w)
        assert out['afs_layers'].shape == (2, 2)
        assert out['afs_layers'].dtype == torch.long
        assert [p.shape for p in afs_probs(neck, inputs)] == [(2, 3), (2, 3)]
        assert sorted(out) == ['afs_layers', 'feat', 'sent_feat', 'word_feats',
                               'word_mask']


def test_eval_selection_is_the_argmax_layer():
    neck = _neck('straight_through').eval()
    inputs, _ = _toy_batch(torch.randn(C), batch=4)
    out = neck(inputs)
    # replacing every non-chosen low candidate does not change the output
    chosen = out['afs_layers'][:, 0]
    altered = dict(inputs)
    altered['visual_feats'] = list(inputs['visual_feats'])
    for layer in (1, 2, 3):
        keep = (chosen == layer)[:, None, None, None]
        altered['visual_feats'][layer - 1] = torch.where(
            keep, inputs['visual_feats'][layer - 1], torch.randn(4, C, S, S))
    torch.testing.assert_close(neck(altered)['feat'], out['feat'])


@pytest.mark.parametrize('fusion', ['concat', 'top'])
def test_pyramid_needs_the_sfa_fusion(fusion):
    """The pyramid is SFA's: another fusion would silently ignore it."""
    with pytest.raises(ValueError, match="pyramid='release' needs "
                       "fusion='sfa'"):
        _neck('straight_through', fusion=fusion, pyramid='release')
    _neck('straight_through', fusion=fusion, pyramid='paper')  # the default


def test_missing_layer_is_a_clear_error():
    neck = _neck('soft')
    inputs, _ = _toy_batch(torch.randn(C), batch=2)
    inputs['layers'] = (1, 2, 3, 4, 5, 6, 8)
    with pytest.raises(ValueError, match='out_indices'):
        neck(inputs)
