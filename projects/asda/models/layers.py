"""Generic layers the AFSF neck and the WGDA head are built from.

Nothing here is specific to the paper: norms, attention, position encoding,
resizing, and :func:`adopt`, which lets a module take the layers of the
variant it chose as its own. The paper's components live in
:mod:`asda.models.necks.afsf` and :mod:`asda.models.decode_heads.wgda_head`.

Shapes: B batch, C channels, h x w a map, Lq queries, Lk keys, d width,
D key / value width.
"""
import functools
import math
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'LayerNorm2d', 'Conv1x1ReLU', 'resize_to', 'device_constant',
    'sine_position_encoding', 'MultiheadAttention', 'FFN',
    'SelfAttentionLayer', 'CrossAttentionLayer', 'adopt'
]


# --------------------------------------------------------------- conv maps
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, h, w) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (B, h, w, C)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)  # (B, C, h, w)


class Conv1x1ReLU(nn.Sequential):
    """1x1 convolution + ReLU: (B, C_in, h, w) -> (B, C_out, h, w)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 1), nn.ReLU(inplace=True))


def resize_to(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of (B, C, h, w) to ``size`` (a no-op when equal)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


# --------------------------------------------------------------- constants
def device_constant(build: Callable[..., torch.Tensor], *args) -> torch.Tensor:
    """``build(*args)``, computed once per ``(build, args)`` and cached.

    For tensors that depend on their (hashable) arguments only, a device
    among them: a position encoding, a table of layer numbers. Built outside
    inference mode, so the cached tensor is a normal one even when first
    asked for under ``torch.inference_mode``; do not modify it in place.
    While tracing or compiling it is rebuilt (a constant of the graph).
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return build(*args)
    with torch.inference_mode(False), torch.no_grad():
        return _cached(build, *args)


@functools.lru_cache(maxsize=16)
def _cached(build, *args):
    return build(*args)


def sine_position_encoding(h: int, w: int, dim: int,
                           temperature: float = 10000.,
                           device=None, dtype=torch.float32) -> torch.Tensor:
    """2-D sine/cosine position encoding (DETR style), (h * w, dim).

    Half of the channels encode y, half x; coordinates are normalised to
    (0, 2 pi], so the encoding is defined for any grid size. A constant of
    the grid: computed once per (size, device, dtype) and cached
    (:func:`device_constant`; about 20 small kernels a forward otherwise).
    """
    return device_constant(_sine_position_encoding, h, w, dim, temperature,
                           torch.device(device or 'cpu'), dtype)


def _sine_position_encoding(h, w, dim, temperature, device, dtype):
    if dim % 4:
        raise ValueError(f'sine position encoding needs dim % 4 == 0, got {dim}')
    half = dim // 2
    scale = 2 * math.pi
    y = torch.arange(1, h + 1, device=device, dtype=torch.float32) / h * scale
    x = torch.arange(1, w + 1, device=device, dtype=torch.float32) / w * scale
    dim_t = torch.arange(half, device=device, dtype=torch.float32)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode='floor') / half)
    pos_y = y[:, None] / dim_t  # (h, half)
    pos_x = x[:, None] / dim_t  # (w, half)
    pos_y = torch.stack([pos_y[:, 0::2].sin(), pos_y[:, 1::2].cos()],
                        dim=2).flatten(1)
    pos_x = torch.stack([pos_x[:, 0::2].sin(), pos_x[:, 1::2].cos()],
                        dim=2).flatten(1)
    pos = torch.cat([pos_y[:, None, :].expand(h, w, half),
                     pos_x[None, :, :].expand(h, w, half)], dim=-1)
    return pos.reshape(h * w, dim).to(dtype)


# --------------------------------------------------------------- attention
class MultiheadAttention(nn.Module):
    """Multi-head attention on ``F.scaled_dot_product_attention``.

    Batch-first; keys/values may have their own width (``kdim``), e.g. the
    text features in cross-attention. ``key_padding_mask`` (B, Lk) is True
    at the keys to ignore.
    """

    def __init__(self, dim: int, num_heads: int, kdim: Optional[int] = None,
                 dropout: float = 0.):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by {num_heads} heads')
        kdim = kdim or dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(kdim, dim)
        self.v_proj = nn.Linear(kdim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, query: torch.Tensor, key: torch.Tensor,
                value: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, Lq, d) queries, (B, Lk, D) keys / values -> (B, Lq, d)."""
        B, Lq, C = query.shape
        h = self.num_heads
        # (B, L, d) -> (B, heads, L, d / heads)
        q = self.q_proj(query).view(B, Lq, h, C // h).transpose(1, 2)
        k = self.k_proj(key).view(B, key.shape[1], h, C // h).transpose(1, 2)
        v = self.v_proj(value).view(B, value.shape[1], h, C // h).transpose(1, 2)
        attn_mask = None
        if key_padding_mask is not None:
            attn_mask = ~key_padding_mask.bool()[:, None, None, :]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask,
            dropout_p=self.dropout if self.training else 0.)
        return self.out_proj(out.transpose(1, 2).reshape(B, Lq, C))


class FFN(nn.Sequential):
    """Linear - GELU - Dropout - Linear, hidden width ``dim * ratio``."""

    def __init__(self, dim: int, ratio: float, dropout: float):
        hidden = int(dim * ratio)
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, dim))


class SelfAttentionLayer(nn.Module):
    """Pre-norm self-attention layer, the position encoding added to the
    queries and keys: x + MHSA(LN(x)), then x + FFN(LN(x)).

    Args:
        dim (int): d, the token width.
        num_heads (int): Attention heads.
        ffn_ratio (float): FFN hidden width / d.
        dropout (float): Dropout on both residual branches and in the FFN.
        attn_dropout (float): Dropout on the attention probabilities.
    """

    def __init__(self, dim: int, num_heads: int, ffn_ratio: float,
                 dropout: float, attn_dropout: float = 0.):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiheadAttention(dim, num_heads, dropout=attn_dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FFN(dim, ffn_ratio, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """(B, L, d) tokens and (1 or B, L, d) positions -> (B, L, d)."""
        h = self.norm1(x)
        qk = h + pos
        x = x + self.drop(self.attn(qk, qk, h))
        return x + self.drop(self.ffn(self.norm2(x)))


class CrossAttentionLayer(nn.Module):
    """Pre-norm cross-attention layer from tokens to (padded) keys of
    another width: x + MHCA(LN(x) + pos, LN(y)), then x + FFN(LN(x)).

    Args:
        dim (int): d, the query token width.
        key_dim (int): D, the width of the keys / values y.
        num_heads, ffn_ratio, dropout, attn_dropout: as
            :class:`SelfAttentionLayer`.
    """

    def __init__(self, dim: int, key_dim: int, num_heads: int,
                 ffn_ratio: float, dropout: float, attn_dropout: float = 0.):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(key_dim)
        self.attn = MultiheadAttention(dim, num_heads, kdim=key_dim,
                                       dropout=attn_dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FFN(dim, ffn_ratio, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, keys: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """(B, Lq, d) tokens, (1 or B, Lq, d) positions, (B, Lk, D) keys and
        their (B, Lk) padding mask (True = ignore) -> (B, Lq, d)."""
        keys = self.norm_kv(keys)
        x = x + self.drop(self.attn(self.norm_q(x) + pos, keys, keys,
                                    key_padding_mask=key_padding_mask))
        return x + self.drop(self.ffn(self.norm2(x)))


# ---------------------------------------------------------------- variants
def adopt(host: nn.Module, name: str, variant: nn.Module) -> None:
    """Make ``variant``'s layers ``host``'s own; keep it as ``host.<name>``.

    An option with several implementations is a small module per
    implementation (a variant), built once. ``host`` registers each child of
    the variant as its own child under the same name, so the state-dict
    keys, the parameter names and the checkpoints are those of a host that
    built the layers itself (no ``<name>.`` prefix). The variant itself is
    an attribute of ``host`` outside its module tree: ``host.to()``,
    ``host.train()`` and ``host.state_dict()`` reach its layers through
    ``host``, never the variant object. So a variant holds no parameter or
    buffer of its own (checked here) and does not read its own
    ``training`` flag (the host passes it where a variant needs it).

    Args:
        host (nn.Module): The module the layers belong to.
        name (str): Attribute of ``host`` the variant is kept as.
        variant (nn.Module): The implementation chosen.
    """
    own = [n for n, _ in variant.named_parameters(recurse=False)]
    own += [n for n, _ in variant.named_buffers(recurse=False)]
    if own:
        raise TypeError(f'{type(variant).__name__} holds tensors of its own '
                        f'({own}); a variant keeps its tensors in its layers')
    for child_name, child in variant.named_children():
        if child_name in host._modules or child_name in host.__dict__:
            raise ValueError(f'{type(host).__name__} already has '
                             f'{child_name!r} ({type(variant).__name__})')
        host.add_module(child_name, child)
    object.__setattr__(host, name, variant)  # not a submodule (see above)
