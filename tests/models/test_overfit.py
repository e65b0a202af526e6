"""Grounded overfit: the model must read the expression to find the object.

Every image holds a red square and a blue circle at random places and
appears twice, once with "red square" and once with "blue circle". After
training on this fixed batch each expression's mask matches its object
(IoU > 0.9 at the original size, through the full predict path) and, with
the two expressions swapped, the prediction no longer matches the original
masks (IoU < 0.2).
"""
import numpy as np
import pytest
import torch
from tiny_models import build_segmentor, make_sample, tiny_segmentor_cfg

SIZE = 96
STEPS = 200


def _scene(rng):
    img = np.full((SIZE, SIZE, 3), 90, np.uint8)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    while True:  # square corner, circle centre; kept apart
        corner = rng.integers(4, SIZE - 32, 2)
        centre = rng.integers(18, SIZE - 18, 2)
        if np.abs(corner + 14 - centre).max() > 30:
            break
    square = np.zeros((SIZE, SIZE), np.int64)
    square[corner[0]:corner[0] + 28, corner[1]:corner[1] + 28] = 1
    circle = ((yy - centre[0])**2 + (xx - centre[1])**2 <= 14**2).astype(np.int64)
    img[square == 1] = (0, 0, 220)  # BGR: red
    img[circle == 1] = (220, 0, 0)  # BGR: blue
    return img, square, circle


def _batch(pairs):
    return dict(
        inputs=[torch.from_numpy(img).permute(2, 0, 1).contiguous()
                for img, _, _ in pairs],
        data_samples=[
            make_sample(text, gt, ori_shape=(SIZE, SIZE), img_shape=(SIZE, SIZE))
            for _, text, gt in pairs
        ])


def _ious(model, pairs, masks):
    data = model.data_preprocessor(_batch(pairs), False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    ious = []
    for result, gt in zip(results, masks):
        pred = result.pred_sem_seg.data[0].numpy() > 0
        gt = gt > 0
        ious.append((pred & gt).sum() / max((pred | gt).sum(), 1))
    return np.array(ious)


@pytest.mark.slow
def test_grounded_overfit():
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(4):
        img, square, circle = _scene(rng)
        pairs += [(img, 'red square', square), (img, 'blue circle', circle)]
    torch.manual_seed(0)  # the initial weights, whatever ran before
    model = build_segmentor(tiny_segmentor_cfg(img_size=SIZE))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = _batch(pairs)
    model.train()
    for _ in range(STEPS):
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    masks = [gt for _, _, gt in pairs]
    own = _ious(model, pairs, masks)
    assert own.min() > 0.9, own.round(3)
    swapped = [(img, pairs[i ^ 1][1], gt) for i, (img, _, gt) in enumerate(pairs)]
    crossed = _ious(model, swapped, masks)
    assert crossed.max() < 0.2, crossed.round(3)
