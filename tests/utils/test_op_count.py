"""Operator-count budget of the neck and head: the CPU-side proxy of GPU
launch overhead (a count, not a timing). Lower the budget when a change cuts
operators; a change that adds some must raise it on purpose."""
import os.path as osp

import pytest
from asda_test_utils import DEMO_CONFIG, ROOT

from asda.apis import init_model
from asda.utils.op_count import count_neck_head_ops

VITB_CONFIG = osp.join(ROOT, 'configs', 'asda', 'asda_vitb_refcoco.py')

# ATen calls of one training forward (neck, head, loss) and one backward at
# batch 2 (torch.profiler on one CPU thread, steady state). Before the
# GPU-overhead work: tiny 1375 / 1515, ViT-B/16 1461 / 1539. The neck no
# longer computes the AFS probabilities nothing used: 6 fewer forward calls.
BUDGET = {
    'tiny': dict(forward=1198, backward=1465),
    'vitb': dict(forward=1284, backward=1489),
}


def _counts(config):
    model = init_model(config, cfg_options={'model.backbone.pretrained': None})
    return count_neck_head_ops(model, batch_size=2)


def _check(counts, budget):
    assert counts['total'] == counts['forward'] + counts['backward']
    for phase in ('forward', 'backward'):
        assert 0 < counts[phase] <= budget[phase], (phase, counts)


def test_tiny_neck_head_within_operator_budget():
    _check(_counts(DEMO_CONFIG), BUDGET['tiny'])


@pytest.mark.slow
def test_vitb_neck_head_within_operator_budget():
    _check(_counts(VITB_CONFIG), BUDGET['vitb'])


def test_count_is_repeatable_and_thread_independent():
    import torch
    model = init_model(DEMO_CONFIG)
    threads = torch.get_num_threads()
    first = count_neck_head_ops(model)
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        assert count_neck_head_ops(model) == first
    finally:
        torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads
