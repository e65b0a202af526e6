"""WGDAHead: shapes, Eq. 10, loss contracts, ignore label."""
import pytest
import torch
from asda_test_utils import assert_close_to_rounding
from model_parts import masks_and_coefficients
from tiny_models import build_segmentor, make_sample, small_head  # noqa: F401  (scope)

from asda.models.layers import sine_position_encoding
from asda.models.losses.binary_losses import binary_dice_loss, binary_focal_loss

_head = small_head


def _inputs(b=2, h=4, w=6, length=7):
    mask = torch.zeros(b, length, dtype=torch.bool)
    mask[0, 3:] = True
    return dict(feat=torch.randn(b, 32, h, w),
                word_feats=torch.randn(b, length, 24), word_mask=mask)


def test_forward_is_eq10_at_8x_the_grid():
    head = _head().eval()
    x = _inputs()
    logits = head(x)
    assert logits.shape == (2, 1, 32, 48)
    masks, coef = masks_and_coefficients(head, x)
    assert masks.shape == (2, 8, 32, 48) and coef.shape == (2, 8)
    assert masks.min() >= 0 and masks.max() <= 1 and coef.abs().max() <= 1
    terms = coef[:, :, None, None] * masks  # Eq. 10's Nc terms, of both signs
    assert_close_to_rounding(logits[:, 0], terms.sum(1), 2 * terms.abs().sum(1), 'Eq. 10')
    assert head.out_channels == 1 and head.threshold == 0.5
    assert not hasattr(head, 'conv_seg')


def test_padded_words_are_ignored():
    head = _head().eval()
    x = _inputs()
    y = dict(x)
    y['word_feats'] = x['word_feats'].clone()
    y['word_feats'][0, 3:] = torch.randn(4, 24) * 10  # padding of sample 0
    torch.testing.assert_close(head(x), head(y))


def test_flatten_pool_needs_its_grid():
    with pytest.raises(ValueError, match='coef_grid'):
        _head(coef_pool='flatten')
    head = _head(coef_pool='flatten', coef_grid=(4, 6))
    assert head(_inputs()).shape == (2, 1, 32, 48)
    with pytest.raises(ValueError, match='token grid'):
        head(_inputs(h=5))


@pytest.mark.parametrize('branch', ['cfs', 'single'])
def test_flatten_pool_needs_the_dual_branch(branch):
    """Coefficients exist in the dual branch only: a flatten pool elsewhere
    would be silently ignored."""
    with pytest.raises(ValueError, match="coef_pool='flatten' needs "
                       "branch='dual'"):
        _head(coef_pool='flatten', coef_grid=(4, 6), branch=branch)


def test_loss_ignores_padding_and_resizes_target():
    head = _head()
    logits = torch.randn(2, 1, 8, 8, requires_grad=True)
    gt = torch.zeros(2, 16, 16, dtype=torch.long)
    gt[:, 2:8, 2:8] = 1
    samples = [make_sample('x', gt[i]) for i in range(2)]
    losses = head.loss_by_feat(logits, samples)
    assert set(losses) == {'loss_focal', 'loss_dice', 'acc_seg'}
    (losses['loss_focal'] + losses['loss_dice']).backward()
    # padding (255) in the bottom half: its logits get no gradient and any
    # value there leaves the loss unchanged
    gt_pad = gt.clone()
    gt_pad[:, 8:] = 255
    samples = [make_sample('x', gt_pad[i]) for i in range(2)]
    logits2 = logits.detach().clone().requires_grad_(True)
    loss_a = sum(v for k, v in head.loss_by_feat(logits2, samples).items()
                 if k.startswith('loss'))
    loss_a.backward()
    assert logits2.grad[:, :, 4:].abs().sum() == 0
    assert logits2.grad[:, :, :4].abs().sum() > 0
    logits3 = logits2.detach().clone()
    logits3[:, :, 4:] = 100.
    loss_b = sum(v for k, v in head.loss_by_feat(logits3, samples).items()
                 if k.startswith('loss'))
    torch.testing.assert_close(loss_a.detach(), loss_b)


def test_area_target_resize():
    head = _head()
    label = torch.tensor([[0, 1, 1, 1], [0, 1, 255, 255],
                          [255, 255, 0, 0], [255, 0, 0, 0]])[None, None]
    target = head.resize_target(label, (2, 2))
    assert target[0, 0, 0] == 0.5 and target[0, 0, 1] == 1.0
    assert target[0, 1, 0] == 255  # 3 of 4 pixels are padding
    assert target[0, 1, 1] == 0.0
    nearest = _head(target_resize='nearest').resize_target(label, (2, 2))
    assert nearest.dtype == torch.long and nearest[0].tolist() == [[0, 1], [255, 0]]


def test_binary_losses_by_hand():
    pred = torch.tensor([[0.0, 2.0, -1.0, 5.0]])
    target = torch.tensor([[1, 0, 255, 1]])
    p = torch.sigmoid(pred[0, [0, 1, 3]])
    t = torch.tensor([1., 0., 1.])
    ce = -(t * p.log() + (1 - t) * (1 - p).log())
    p_t = p * t + (1 - p) * (1 - t)
    alpha = 0.25 * t + 0.75 * (1 - t)
    expected = (alpha * (1 - p_t) ** 2 * ce).mean()
    torch.testing.assert_close(binary_focal_loss(pred, target), expected)
    dice = (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
    torch.testing.assert_close(binary_dice_loss(pred, target), 1 - dice)


def test_sine_position_encoding():
    pos = sine_position_encoding(3, 5, 16)
    assert pos.shape == (15, 16)
    assert pos.abs().max() <= 1
    assert len({tuple(r.tolist()) for r in pos.round(decimals=5)}) == 15
