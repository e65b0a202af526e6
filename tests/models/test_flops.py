"""FLOP counting with fused attention (asda.utils.flops)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from tiny_models import build_segmentor, tiny_segmentor_cfg

from asda.models.layers import MultiheadAttention
from asda.utils.flops import count_by_part, flop_analyzer


class _SDPA(nn.Module):

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_sdpa_by_hand():
    q = torch.randn(2, 4, 10, 8)  # (B, heads, Lq, E)
    k = torch.randn(2, 4, 7, 8)
    v = torch.randn(2, 4, 7, 6)
    # Q K^T: B*h*Lq*Lk*E multiply-adds, attn V: B*h*Lq*Lk*Ev
    expected = 2 * 4 * 10 * 7 * 8 + 2 * 4 * 10 * 7 * 6
    assert flop_analyzer(_SDPA(), (q, k, v)).total() == expected
    plain = FlopAnalyzer(_SDPA(), (q, k, v))
    plain.unsupported_ops_warnings(False)
    assert plain.total() == 0  # why the handle is needed


def test_attention_layer_by_hand():
    layer = MultiheadAttention(32, num_heads=4, kdim=24)
    q, kv = torch.randn(1, 50, 32), torch.randn(1, 9, 24)
    projections = 50 * 32 * 32 + 2 * 9 * 24 * 32 + 50 * 32 * 32
    attention = 50 * 9 * 32 * 2  # over 4 heads of 8 channels
    counter = flop_analyzer(layer, (q, kv, kv))
    assert counter.total() == projections + attention


class _MHA(nn.Module):
    """nn.MultiheadAttention as open_clip calls it (need_weights=False)."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def test_native_mha_fast_path_counts_the_same():
    mha = _MHA().eval()
    x = torch.randn(1, 20, 32)
    with torch.no_grad():  # inference fast path: aten::_native_multi_head_attention
        fast = flop_analyzer(mha, (x, ))
        assert '_native_multi_head_attention' in fast.by_operator()
        fast_total = fast.total()
    slow = flop_analyzer(mha, (x, ))  # grad enabled: linear + sdpa
    assert 'scaled_dot_product_attention' in slow.by_operator()
    assert fast_total == slow.total() == 4 * 20 * 32 * 32 + 2 * 20 * 20 * 32


def test_count_by_part():
    model = build_segmentor(tiny_segmentor_cfg(img_size=64))
    stats = count_by_part(model, (64, 96))
    parts = ('backbone', 'neck', 'decode_head')
    assert all(stats[p]['flops'] > 0 and stats[p]['params'] > 0 for p in parts)
    assert sum(stats[p]['flops'] for p in parts) <= stats['total']['flops']
    assert stats['total']['flops'] - sum(stats[p]['flops'] for p in parts) < \
        0.01 * stats['total']['flops']
    assert 'aten::scaled_dot_product_attention' not in stats['unsupported']
