"""ATen operator calls of the neck and head: a CPU-side proxy of GPU launch
overhead that CI can hold.

On a GPU the neck and head cost little arithmetic but many small kernels;
every ATen operator call is (at least) one launch there. Counting the calls
of one forward (neck, head, loss) and one backward with ``torch.profiler``
on the CPU gives a number that does not depend on the machine or its load,
so a test can pin a budget (a count, not a timing).
"""
from typing import Dict, Sequence

import torch
from torch import nn

__all__ = ['count_neck_head_ops']

EXPRESSIONS = ('the red circle on the left', 'blue square', 'the bigger one',
               'green hexagon at the top')


def _count(fn) -> int:
    """ATen calls of ``fn()``, on one thread: CPU kernels take other paths
    (and call other operators) with other thread counts."""
    from torch.profiler import ProfilerActivity, profile
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
    finally:
        torch.set_num_threads(threads)
    return sum(1 for event in prof.events() if event.name.startswith('aten::'))


def count_neck_head_ops(segmentor: nn.Module, batch_size: int = 2,
                        expressions: Sequence[str] = EXPRESSIONS) -> Dict[str, int]:
    """ATen operator calls of one training forward and backward.

    The backbone runs first, outside the count, on random images of the
    backbone's ``img_size`` and ``batch_size`` expressions; then the neck,
    the head and its loss (against a random mask) are counted as
    ``forward``, and ``loss.backward()`` as ``backward``. One uncounted
    step runs first (steady state: caches filled), and gradients are reset
    to None before each step, so repeated counts agree.

    Args:
        segmentor (nn.Module): A :class:`ReferringEncoderDecoder` (train mode
            is set here).
        batch_size (int): B.

    Returns:
        dict: ``forward``, ``backward`` and ``total`` operator calls.
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    torch.manual_seed(0)
    segmentor.train()
    size = segmentor.backbone.img_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    texts = [expressions[i % len(expressions)] for i in range(batch_size)]
    img = torch.randn(batch_size, 3, *size)
    samples = []
    for text in texts:
        sample = SegDataSample(metainfo=dict(
            text=text, img_shape=size, pad_shape=size, ori_shape=size))
        sample.gt_sem_seg = PixelData(
            data=(torch.rand(1, *size) > 0.5).long())
        samples.append(sample)
    with torch.no_grad():
        feats = segmentor.backbone(img, segmentor.backbone.tokenize(texts))
    losses = {}

    def forward():
        x = segmentor.neck(feats) if segmentor.with_neck else feats
        losses.update(segmentor.decode_head.loss(x, samples, segmentor.train_cfg))

    def backward():
        sum(v for k, v in losses.items() if 'loss' in k).backward()

    forward()  # warm-up
    backward()
    segmentor.zero_grad(set_to_none=True)
    forward_ops = _count(forward)
    backward_ops = _count(backward)
    segmentor.zero_grad(set_to_none=True)
    return dict(forward=forward_ops, backward=backward_ops,
                total=forward_ops + backward_ops)
