"""The no-target output (generalized RIS): off by default, trained with its
own loss, and at inference an empty mask for a predicted no-target."""
import numpy as np
import pytest
import torch
from tiny_models import build_segmentor, make_sample, small_head, tiny_segmentor_cfg

from asda.models.decode_heads.no_target import NoTargetClassifier, gt_no_target

TEXTS = ['red square', 'the purple hexagon']


_head = small_head


def _inputs(b=2, h=4, w=6, length=7):
    return dict(feat=torch.randn(b, 32, h, w), word_feats=torch.randn(b, length, 24),
                word_mask=torch.zeros(b, length, dtype=torch.bool),
                sent_feat=torch.randn(b, 24))


def _batch(model, no_target=(False, True)):
    gt = np.zeros((64, 64), np.int64)
    gt[10:30, 10:30] = 1
    samples = [make_sample(t, gt if not nt else np.zeros_like(gt), no_target=nt)
               for t, nt in zip(TEXTS, no_target)]
    return model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2,
             data_samples=samples), True)


def test_off_by_default_keys_and_outputs_unchanged():
    torch.manual_seed(0)
    plain = _head().eval()
    torch.manual_seed(0)
    with_nt = _head(no_target=dict(loss_weight=0.5)).eval()
    assert plain.no_target is None
    extra = set(with_nt.state_dict()) - set(plain.state_dict())
    assert extra and all(k.startswith('no_target.') for k in extra)
    assert set(plain.state_dict()) <= set(with_nt.state_dict())
    x = _inputs()
    # the same masks: the classifier is built after every paper module
    torch.testing.assert_close(plain(x), with_nt(x))
    seg, nt = with_nt.forward_with_no_target(x)
    torch.testing.assert_close(seg, plain(x))
    assert nt.shape == (2,)
    with pytest.raises(RuntimeError, match='no_target=None'):
        plain.forward_with_no_target(x)


def test_single_branch_supports_it_and_cfs_refuses():
    head = _head(branch='single', no_target=dict())
    assert head.forward_with_no_target(_inputs())[1].shape == (2,)
    with pytest.raises(ValueError, match="branch='cfs'"):
        _head(branch='cfs', no_target=dict())
    with pytest.raises(ValueError, match='threshold'):
        _head(no_target=dict(threshold=1.5))


def test_loss_is_weighted_bce_on_metainfo_label():
    clf = NoTargetClassifier(8, 4, loss_weight=2.0)
    logits = torch.tensor([0.3, -1.2, 2.0])
    obj = np.zeros((4, 4), np.int64)
    obj[1:3, 1:3] = 1
    # metainfo first; without it, an empty ground-truth mask is no target
    samples = [make_sample('a', np.zeros_like(obj), no_target=True),
               make_sample('b', obj), make_sample('c', obj, no_target=False)]
    assert [gt_no_target(s) for s in samples] == [True, False, False]
    assert gt_no_target(make_sample('d', np.zeros_like(obj)))
    with pytest.raises(ValueError, match='has an object'):
        gt_no_target(make_sample('e', obj, no_target=True))
    out = clf.loss(logits, samples)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.tensor([1., 0., 0.]))
    torch.testing.assert_close(out['loss_no_target'], 2.0 * expected)
    # sigmoid > 0.5: [yes, no, yes] against [yes, no, no]
    torch.testing.assert_close(out['acc_no_target'], torch.tensor(200.0 / 3))


def test_segmentor_trains_the_no_target_head():
    torch.manual_seed(0)
    model = build_segmentor(tiny_segmentor_cfg(
        img_size=64, no_target=dict(loss_weight=1.0))).train()
    losses = model(**_batch(model), mode='loss')
    assert {'decode.loss_no_target', 'decode.acc_no_target',
            'decode.loss_focal', 'decode.loss_dice'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    params = dict(model.decode_head.no_target.named_parameters())
    assert params and all(p.grad is not None and p.grad.abs().sum() > 0
                          for p in params.values())
    # the plain model has no such loss and no such parameters
    plain = build_segmentor(tiny_segmentor_cfg(img_size=64)).train()
    assert 'decode.loss_no_target' not in plain(**_batch(plain), mode='loss')
    assert not any('no_target' in k for k in plain.state_dict())


def test_predict_empties_the_mask_above_the_threshold():
    torch.manual_seed(0)
    model = build_segmentor(tiny_segmentor_cfg(
        img_size=64, no_target=dict(threshold=0.5))).eval()
    head = model.decode_head
    # force the mask logits positive everywhere and the no-target logits
    # to +5 / -5 for the two samples
    with torch.no_grad():
        head.mask_conv.bias.fill_(10.0)
        head.mask_conv.weight.zero_()
        head.coef_convs[-1].bias.fill_(10.0)
        head.coef_convs[-1].weight.zero_()
        last = head.no_target.mlp[-1]
        last.weight.zero_()
        last.bias.fill_(5.0)
    samples = [make_sample(t, ori_shape=(64, 64), img_shape=(64, 64)) for t in TEXTS]
    inputs = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        results = model(inputs, samples, mode='predict')
    for r in results:
        assert float(r.no_target_score) == pytest.approx(torch.sigmoid(torch.tensor(5.)).item())
        assert r.pred_sem_seg.data.sum() == 0  # predicted "no target"
    with torch.no_grad():
        last.bias.fill_(-5.0)
        results = model(inputs, samples, mode='predict')
    for r in results:
        assert float(r.no_target_score) < 0.01
        assert r.pred_sem_seg.data.sum() == 64 * 64  # the whole image
