"""Binary focal / Dice losses: mmseg's weight / reduction / avg_factor."""
import pytest
import torch

from asda.models.losses import BinaryDiceLoss, BinaryFocalLoss


def _batch():
    pred = torch.randn(3, 1, 8, 8)
    target = (torch.rand(3, 8, 8) > 0.5).long()
    target[0, :, 6:] = 255  # padding
    return pred, target


@pytest.mark.parametrize('loss_type', [BinaryFocalLoss, BinaryDiceLoss])
def test_per_sample_weights_weigh_the_sample_losses(loss_type):
    loss = loss_type()
    pred, target = _batch()
    each = loss(pred, target, reduction_override='none')
    assert each.shape == (3, )
    torch.testing.assert_close(loss(pred, target), each.mean())
    for i in range(3):  # a sample's loss alone equals its batch entry
        torch.testing.assert_close(loss(pred[i:i + 1], target[i:i + 1]), each[i])
    weight = torch.tensor([1., 0., 2.])
    torch.testing.assert_close(loss(pred, target, weight=weight),
                               (each * weight).mean())
    torch.testing.assert_close(
        loss(pred, target, weight=weight, avg_factor=3.),
        (each * weight).sum() / 3.)
    torch.testing.assert_close(
        loss(pred, target, weight=weight, reduction_override='sum'),
        (each * weight).sum())
    # a zero weight removes the sample's gradient
    pred.requires_grad_(True)
    loss(pred, target, weight=weight).backward()
    assert pred.grad[1].abs().sum() == 0 and pred.grad[0].abs().sum() > 0
    assert loss_type(reduction='sum')(pred, target).item() == pytest.approx(
        each.sum().item(), rel=1e-6)


@pytest.mark.parametrize('loss_type', [BinaryFocalLoss, BinaryDiceLoss])
def test_per_pixel_weights_act_like_ignoring(loss_type):
    loss = loss_type()
    pred, target = _batch()
    weight = torch.ones(3, 8, 8)
    weight[:, :2] = 0  # weight 0 on the first two rows
    ignored = target.clone()
    ignored[:, :2] = 255
    weighted = loss(pred, target, weight=weight, reduction_override='none')
    if loss_type is BinaryDiceLoss:  # Dice sums only: the same as ignoring
        torch.testing.assert_close(
            weighted, loss(pred, ignored, reduction_override='none'))
    else:  # focal: zeroed pixels still count in the mean's divisor
        valid = (target != 255).flatten(1).sum(1).float()
        kept = (ignored != 255).flatten(1).sum(1).float()
        torch.testing.assert_close(
            weighted, loss(pred, ignored, reduction_override='none') * kept / valid)
    torch.testing.assert_close(
        loss(pred, target, weight=torch.ones(3, 1, 8, 8)), loss(pred, target))


def test_bad_weight_shape_and_reduction_are_clear_errors():
    pred, target = _batch()
    with pytest.raises(ValueError, match='loss weight'):
        BinaryFocalLoss()(pred, target, weight=torch.ones(2))
    with pytest.raises(ValueError, match='reduction'):
        BinaryDiceLoss(reduction='avg')
