"""FLOP and parameter counting per part (backbone / neck / head).

mmengine's :class:`~mmengine.analysis.FlopAnalyzer` (fvcore's counter: one
fused multiply-add = one FLOP) traces the model with the JIT but has no
handle for fused attention, so the attention products of every transformer
(``F.scaled_dot_product_attention``; PyTorch's fused multi-head attention
kernel) would silently count as zero. :func:`flop_analyzer` registers
handles for them:

* ``aten::scaled_dot_product_attention``: Q K^T and attn V,
  ``batch x Lq x Lk x (E + Ev)`` multiply-adds.
* ``aten::_native_multi_head_attention`` (``nn.MultiheadAttention``'s
  inference fast path): the same plus the input and output projections.
"""
from math import prod
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape

from .tracing import TokensForward

__all__ = ['sdpa_flop_jit', 'native_mha_flop_jit', 'flop_analyzer',
           'count_by_part']


def sdpa_flop_jit(inputs: List, outputs: List) -> int:
    """Multiply-adds of ``scaled_dot_product_attention(q, k, v)``."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    *batch, lq, e = q
    lk, ev = k[-2], v[-1]
    return prod(batch) * lq * lk * (e + ev)


def native_mha_flop_jit(inputs: List, outputs: List) -> int:
    """Multiply-adds of ``aten::_native_multi_head_attention``.

    Inputs: query (B, Lq, E), key (B, Lk, E), value (B, Lk, E), embed_dim,
    num_heads, qkv weight, qkv bias, out weight, out bias, ...
    """
    q, k, v = (get_shape(x) for x in inputs[:3])
    b, lq, e = q
    lk = k[1]
    projections = b * (lq * e * e + 2 * lk * e * e + lq * e * e)
    attention = b * lq * lk * 2 * e
    return projections + attention


def flop_analyzer(model: nn.Module, inputs, quiet: bool = True) -> FlopAnalyzer:
    """A FlopAnalyzer that also counts fused attention.

    ``quiet`` turns off its warnings about skipped ops and modules never
    called (ask ``analyzer.unsupported_ops()`` for the former instead).
    """
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle(
        **{
            'aten::scaled_dot_product_attention': sdpa_flop_jit,
            'aten::_native_multi_head_attention': native_mha_flop_jit,
        })
    if quiet:
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
    return analyzer


def count_by_part(segmentor: nn.Module,
                  shape: Sequence[int] = (416, 416),
                  context_length: Optional[int] = None,
                  text: str = 'the man in the red shirt on the left',
                  parts: Tuple[str, ...] = ('backbone', 'neck', 'decode_head'),
                  ) -> Dict[str, Dict[str, float]]:
    """FLOPs (multiply-adds) and parameters of each part for one image.

    Returns ``{part: {'flops': int, 'params': int}}`` for ``parts`` and
    ``'total'``; plus ``'unsupported'``: ops the counter skipped (element-wise
    ops, softmax, normalisation-free activations: not counted, as fvcore).
    A part may be a dotted sub-module name (``'backbone.visual'``).
    """
    segmentor = segmentor.eval()
    backbone = segmentor.backbone
    if context_length is not None and context_length != backbone.context_length:
        raise ValueError(f'the model is built for context length '
                         f'{backbone.context_length}, not {context_length}')
    img = torch.randn(1, 3, *shape)
    tokens = backbone.tokenize([text])
    wrapper = TokensForward(segmentor)
    with torch.no_grad():
        analyzer = flop_analyzer(wrapper, (img, tokens))
        by_module = analyzer.by_module()
        unsupported = dict(analyzer.unsupported_ops())
    result = {}
    modules = dict(segmentor.named_modules())
    for part in parts:
        module = modules.get(part)
        if module is None:
            continue
        result[part] = dict(
            flops=by_module.get(f'model.{part}', 0),
            params=sum(p.numel() for p in module.parameters()))
    result['total'] = dict(
        flops=by_module.get('', 0),
        params=sum(p.numel() for p in segmentor.parameters()))
    result['unsupported'] = unsupported
    return result
