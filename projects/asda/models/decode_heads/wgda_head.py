"""Word Guided Dual-branch Aligner (WGDA = CFS + WCG), paper Sec. 3.4.

Shapes: B batch, d the working width (``in_channels``), H x W the token
grid, L words, D text width, Nc response masks.

Input: the AFSF neck's dict (``'feat'`` F_coarse (B, d, H, W), ``'word_feats'``
f_T (B, L, D), ``'word_mask'`` (B, L) True = padding).

CFS (Eq. 6-7)::

    F_A  = LN(n x [x + MHSA(LN(x)) ; x + FFN(LN(x))])(F_coarse)
           (pre-norm; 2-D sine position encoding added to queries and keys)
    M'   = sigmoid(conv1x1(3 x [up2 -> conv3x3-GN-ReLU](F_A)))  (B, Nc, 8H, 8W)

WCG (Eq. 8-9)::

    F_X     = F_A + MHCA(LN(F_A) + pos, LN(f_T), key padding mask)
    F_fine  = F_X + MLP(LN(F_X))
    f_coef  = tanh(pool(conv1x1(conv3x3(conv3x3(F_fine)))))    (B, Nc)

``coef_pool='avg'`` (default, our choice: any input size) averages the
H x W x Nc map; ``'flatten'`` reproduces the release (flatten + Linear,
position-aware, needs the token grid fixed by ``coef_grid``; only the dual
branch has coefficients).

Output (Eq. 10): M = sum_k f_coef[k] M'_k, one logit channel at 8x the token
grid (208 x 208 for a 416 input with patch 16). Prediction is
sigmoid(M) > ``threshold`` (mmseg's single-channel path).

``branch`` selects the rows of the paper's Table 2: ``'dual'`` (default, the
full model, row f); ``'cfs'``: the CFS branch alone, its decoder ending in a
single logit channel (no word features, no coefficients; rows a-d);
``'single'``: the single-branch alignment of row e: F_A is fused with the
words by the cross-attention layer (as CRIS's transformer decoder does)
before that single-channel decoder.

Layout: each branch is a small module (:class:`CFSBranch`,
:class:`SingleBranch`, :class:`DualBranch`, and :class:`ReleaseDualBranch`
for ``coef_pool='flatten'``), chosen once in ``WGDAHead.__init__``; the head
adopts its layers (:func:`asda.models.layers.adopt`) under the names the
checkpoints use (``cfs_layers``, ``cfs_norm``, ``decoder``, ``mask_conv``,
``wcg_layer``, ``coef_convs``, ``coef_fc``). The generic layers (attention,
position encoding) live in :mod:`asda.models.layers`.

Loss: the target is resized to the logit size; every term of
``loss_decode`` (default: sigmoid focal, gamma 2, alpha 0.25, + Dice, 1:1)
ignores ``ignore_index`` pixels (the padding). ``target_resize='area'``
(default) averages the mask over each logit pixel's footprint (a soft
target; a pixel more than half padding is ignored). ``'nearest'`` (the
release's choice) samples one source pixel per logit pixel, which shifts
the target by half a logit pixel against the bilinear up-sampling used at
prediction: 1 px at the input resolution, enough to cap the IoU of a
perfectly fitted 28 px square at ~0.87.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from ..layers import CrossAttentionLayer, SelfAttentionLayer, adopt, sine_position_encoding
from .no_target import NoTargetClassifier

__all__ = [
    'WGDAHead', 'BranchConfig', 'CFSBranch', 'SingleBranch', 'DualBranch',
    'ReleaseDualBranch', 'FlattenCoefficients'
]


class BranchConfig(NamedTuple):
    """What every branch is built from: :class:`WGDAHead`'s arguments."""
    dim: int
    text_dim: int
    num_layers: int
    num_heads: int
    ffn_ratio: float
    dropout: float
    attn_dropout: float
    decoder_channels: Tuple[int, ...]
    num_masks: int
    coef_channels: int
    coef_grid: Optional[Tuple[int, int]]
    norm_cfg: dict
    act_cfg: dict
    align_corners: bool


class FlattenCoefficients(nn.Linear):
    """The release's coefficient pooling: flatten the (B, Nc, H, W) map of a
    fixed token grid and map it by a Linear to (B, Nc) (position-aware)."""

    def __init__(self, grid: Sequence[int], num_masks: int):
        self.grid = tuple(grid)
        super().__init__(num_masks * self.grid[0] * self.grid[1], num_masks)

    def forward(self, coef: torch.Tensor) -> torch.Tensor:
        if tuple(coef.shape[-2:]) != self.grid:
            raise ValueError(f"coef_pool='flatten' is built for a "
                             f'{self.grid} token grid, got '
                             f'{tuple(coef.shape[-2:])}')
        return super().forward(coef.flatten(1))  # (B, Nc * H * W)


# ------------------------------------------------------------------ branches
# A branch maps the neck's dict to the (B, 1, 8H, 8W) logits and F_fine
# (B, HW, d), None where it has no word attention.
class CFSBranch(nn.Module):
    """Table 2 rows (a)-(d): CFS alone (Eq. 6-7), its decoder ending in one
    logit channel (no word features, no coefficients).

    Args:
        cfg (BranchConfig): The sizes.
        out_channels (int): Channels of the last 1x1 convolution (1 here,
            Nc in :class:`DualBranch`).
    """

    def __init__(self, cfg: BranchConfig, out_channels: int = 1):
        super().__init__()
        self.align_corners = cfg.align_corners
        # Local Visual Attention + segmentation decoder
        self.cfs_layers = nn.ModuleList([
            SelfAttentionLayer(cfg.dim, cfg.num_heads, cfg.ffn_ratio,
                               cfg.dropout, cfg.attn_dropout)
            for _ in range(cfg.num_layers)
        ])
        self.cfs_norm = nn.LayerNorm(cfg.dim)
        stages, c_in = [], cfg.dim
        for c_out in cfg.decoder_channels:
            stages.append(ConvModule(c_in, c_out, 3, padding=1,
                                     norm_cfg=cfg.norm_cfg, act_cfg=cfg.act_cfg))
            c_in = c_out
        self.decoder = nn.ModuleList(stages)
        self.mask_conv = nn.Conv2d(c_in, out_channels, 1)

    def visual_attention(self, x: torch.Tensor
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
        """CFS's Local Visual Attention (Eq. 6).

        Args:
            x (Tensor): F_coarse (B, d, H, W).

        Returns:
            tuple: F_A (B, HW, d) and the position encoding (1, HW, d).
        """
        B, d, H, W = x.shape
        pos = sine_position_encoding(H, W, d, device=x.device,
                                     dtype=x.dtype)[None]
        tokens = x.flatten(2).transpose(1, 2)  # (B, HW, d)
        for layer in self.cfs_layers:
            tokens = layer(tokens, pos)
        return self.cfs_norm(tokens), pos

    def decode(self, tokens: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """CFS segmentation decoder (Eq. 7): (B, HW, d) tokens -> (B, Nc or 1,
        8H, 8W) logits, 3 x (up x2, conv3x3), then conv1x1."""
        y = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, H, W)  # (B, d, H, W)
        for stage in self.decoder:
            y = F.interpolate(y, scale_factor=2, mode='bilinear',
                              align_corners=self.align_corners)
            y = stage(y)
        return self.mask_conv(y)

    def forward(self, inputs: dict) -> Tuple[torch.Tensor, None]:
        """(B, 1, 8H, 8W) logits of F_A, and no F_fine."""
        H, W = inputs['feat'].shape[-2:]
        tokens, _ = self.visual_attention(inputs['feat'])
        return self.decode(tokens, H, W), None


class SingleBranch(CFSBranch):
    """Table 2 row (e): F_A attends to the words (WCG's Visual and Language
    Local Attention, Eq. 8) before the one-channel decoder. Arguments as
    :class:`CFSBranch`."""

    def __init__(self, cfg: BranchConfig, out_channels: int = 1):
        super().__init__(cfg, out_channels)
        self.wcg_layer = CrossAttentionLayer(
            cfg.dim, cfg.text_dim, cfg.num_heads, cfg.ffn_ratio, cfg.dropout,
            cfg.attn_dropout)

    def word_attention(self, tokens: torch.Tensor, pos: torch.Tensor,
                       inputs: dict) -> torch.Tensor:
        """Eq. 8: F_A (B, HW, d) -> F_fine (B, HW, d), attending to the
        words f_T (B, L, D) (padding masked)."""
        words = inputs['word_feats'].to(tokens.dtype)
        return self.wcg_layer(tokens, pos, words, inputs.get('word_mask'))

    def forward(self, inputs: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, 8H, 8W) logits of F_fine, and F_fine (B, HW, d)."""
        H, W = inputs['feat'].shape[-2:]
        tokens, pos = self.visual_attention(inputs['feat'])
        fine = self.word_attention(tokens, pos, inputs)
        return self.decode(fine, H, W), fine


class DualBranch(SingleBranch):
    """Table 2 row (f), the paper's WGDA: Nc response masks M' from F_A
    (CFS), coefficients f_coef from F_fine (WCG, Eq. 8-9), combined by
    Eq. 10. Coefficients pooled by a global average (``coef_pool='avg'``).

    Args:
        cfg (BranchConfig): The sizes.
    """

    def __init__(self, cfg: BranchConfig):
        super().__init__(cfg, out_channels=cfg.num_masks)
        # Gated Coefficients Phi_coef
        self.coef_convs = nn.Sequential(
            ConvModule(cfg.dim, cfg.coef_channels, 3, padding=1,
                       norm_cfg=cfg.norm_cfg, act_cfg=cfg.act_cfg),
            ConvModule(cfg.coef_channels, cfg.coef_channels, 3, padding=1,
                       norm_cfg=cfg.norm_cfg, act_cfg=cfg.act_cfg),
            nn.Conv2d(cfg.coef_channels, cfg.num_masks, 1))

    def pool(self, coef: torch.Tensor) -> torch.Tensor:
        """Eq. 9's unnamed step, (B, Nc, H, W) -> (B, Nc): global average
        pooling (our choice: any input size)."""
        return coef.mean(dim=(2, 3))

    def coefficients(self, fine: torch.Tensor, H: int, W: int) -> torch.Tensor:
        """Gated Coefficients (Eq. 9): F_fine (B, HW, d) -> f_coef (B, Nc)."""
        fine = fine.transpose(1, 2).reshape(fine.shape[0], -1, H, W)  # (B, d, H, W)
        return self.pool(self.coef_convs(fine)).tanh()

    def parts(self, inputs: dict
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """M' (B, Nc, 8H, 8W), f_coef (B, Nc) and F_fine (B, HW, d)."""
        H, W = inputs['feat'].shape[-2:]
        tokens, pos = self.visual_attention(inputs['feat'])  # F_A
        fine = self.word_attention(tokens, pos, inputs)  # F_fine
        return self.decode(tokens, H, W).sigmoid(), \
            self.coefficients(fine, H, W), fine

    def forward(self, inputs: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        """Eq. 10, M = sum_k f_coef[k] M'_k (B, 1, 8H, 8W), and F_fine."""
        masks, coef, fine = self.parts(inputs)
        B, K, H, W = masks.shape
        # (B, 1, K) @ (B, K, HW) -> (B, 1, HW) -> (B, 1, H, W)
        return torch.bmm(coef.to(masks.dtype)[:, None, :],
                         masks.flatten(2)).view(B, 1, H, W), fine


class ReleaseDualBranch(DualBranch):
    """:class:`DualBranch` with the release's coefficient pooling
    (``coef_pool='flatten'``: :class:`FlattenCoefficients`, a fixed token
    grid ``cfg.coef_grid``)."""

    def __init__(self, cfg: BranchConfig):
        super().__init__(cfg)
        self.coef_fc = FlattenCoefficients(cfg.coef_grid, cfg.num_masks)

    def pool(self, coef: torch.Tensor) -> torch.Tensor:
        """(B, Nc, H, W) -> (B, Nc) by flatten + Linear (the release)."""
        return self.coef_fc(coef)


# (branch, coef_pool) -> the branch module; coefficients exist in 'dual' only
_BRANCHES = {
    ('cfs', 'avg'): CFSBranch,
    ('single', 'avg'): SingleBranch,
    ('dual', 'avg'): DualBranch,
    ('dual', 'flatten'): ReleaseDualBranch,
}


def _check_args(out_channels, decoder_channels, coef_pool, coef_grid,
                branch, target_resize, no_target) -> None:
    """Every argument check of :class:`WGDAHead`, in one place."""
    if no_target is not None and branch == 'cfs':
        raise ValueError("no_target needs the word-guided features F_fine, "
                         "which branch='cfs' does not compute")
    if out_channels != 1:
        raise ValueError('WGDAHead predicts one logit channel '
                         '(out_channels=1, num_classes=2)')
    if len(decoder_channels) != 3:
        raise ValueError('decoder_channels needs three stages (8x up)')
    for name, value, allowed in (
            ('coef_pool', coef_pool, ('avg', 'flatten')),
            ('branch', branch, ('dual', 'cfs', 'single')),
            ('target_resize', target_resize, tuple(_TARGET_RESIZES))):
        if value not in allowed:
            raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    if (branch, coef_pool) not in _BRANCHES:
        raise ValueError(f"coef_pool='{coef_pool}' needs branch='dual' (the "
                         f"only branch with coefficients), got "
                         f"branch='{branch}'")
    if coef_pool == 'flatten' and coef_grid is None:
        raise ValueError("coef_pool='flatten' needs coef_grid=(h, w)")


def resize_target_area(seg_label: torch.Tensor, size,
                       ignore_index: int) -> torch.Tensor:
    """(B, 1, h, w) labels -> (B, h', w') float target: the foreground
    fraction of each logit pixel's footprint among its valid pixels;
    ``ignore_index`` where more than half of the footprint is padding."""
    valid = (seg_label != ignore_index).float()
    fg = (seg_label == 1).float()
    valid_frac = F.interpolate(valid, size=size, mode='area')
    fg_frac = F.interpolate(fg, size=size, mode='area')
    target = fg_frac / valid_frac.clamp(min=1e-6)
    target = torch.where(valid_frac >= 0.5, target,
                         torch.full_like(target, float(ignore_index)))
    return target.squeeze(1)


def resize_target_nearest(seg_label: torch.Tensor, size,
                          ignore_index: int) -> torch.Tensor:
    """(B, 1, h, w) labels -> (B, h', w') nearest labels (long)."""
    return F.interpolate(seg_label.float(), size=size,
                         mode='nearest').squeeze(1).long()


_TARGET_RESIZES = dict(area=resize_target_area, nearest=resize_target_nearest)


@MODELS.register_module()
class WGDAHead(BaseDecodeHead):
    """CFS + WCG decode head with the Eq. 10 mask combination.

    Args:
        in_channels (int): Width d_model of F_coarse (the neck's output).
        text_channels (int): Width D of the word features f_T.
        num_layers (int): n, self-attention layers in CFS (Table 3).
        num_heads (int): Attention heads (CFS and WCG).
        ffn_ratio (float): FFN hidden width / d_model.
        dropout (float): Dropout on the attention and FFN outputs (the
            residual branches) and inside the FFNs.
        attn_dropout (float): Dropout on the attention probabilities.
            Default 0: any other value makes PyTorch's CPU attention fall
            back from the fused kernel to the unfused one, which
            materialises the (B, heads, HW, HW) probabilities (2.1 s of a
            23.5 s ViT-B/16 training step at batch 8 on 2 CPU threads).
        decoder_channels (Sequence[int]): Widths of the three up-sampling
            stages of the segmentation decoder.
        num_masks (int): Nc, response masks and coefficients (Table 4).
        coef_channels (int): Width of Phi_coef's two 3x3 convolutions.
        coef_pool (str): ``'avg'`` or ``'flatten'`` (see module docstring;
            ``'flatten'`` needs ``branch='dual'``).
        coef_grid (tuple[int, int], optional): Token grid for
            ``coef_pool='flatten'`` (26 x 26 at 416 with patch 16).
        target_resize (str): ``'area'`` or ``'nearest'``: how the target
            is brought to the logit size for the loss.
        branch (str): ``'dual'``, ``'cfs'`` or ``'single'`` (Table 2 rows,
            see the module docstring); kept as ``self.branch``, its module
            as ``self.decode_branch``.
        no_target (dict, optional): Generalized RIS (gRefCOCO): arguments
            of a :class:`NoTargetClassifier` (``loss_weight``,
            ``threshold``, ``hidden_channels``), a no-target logit per
            expression from F_fine and f_E. None (default): no such output;
            the state dict is the paper model's. Needs ``branch`` 'dual' or
            'single' (F_fine).
        norm_cfg (dict, optional): Norm of the decoder / Phi_coef
            convolutions; default GroupNorm with 8 groups.
        act_cfg (dict, optional): Their activation; default ReLU.
        threshold (float): Foreground threshold on sigmoid(M).
        loss_decode (dict | list[dict]): Loss configs (mmseg style).
        ignore_index (int): Target label to ignore (the padding).
    """

    def __init__(self,
                 in_channels: int = 256,
                 text_channels: int = 512,
                 num_layers: int = 2,
                 num_heads: int = 8,
                 ffn_ratio: float = 2.0,
                 dropout: float = 0.1,
                 attn_dropout: float = 0.,
                 decoder_channels: Sequence[int] = (128, 64, 32),
                 num_masks: int = 32,
                 coef_channels: int = 128,
                 coef_pool: str = 'avg',
                 coef_grid: Optional[Sequence[int]] = None,
                 target_resize: str = 'area',
                 branch: str = 'dual',
                 no_target: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 num_classes: int = 2,
                 out_channels: int = 1,
                 threshold: float = 0.5,
                 loss_decode=(dict(type='BinaryFocalLoss', gamma=2.0, alpha=0.25,
                                   loss_weight=1.0),
                              dict(type='BinaryDiceLoss', loss_weight=1.0)),
                 ignore_index: int = 255,
                 align_corners: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        if norm_cfg is None:
            norm_cfg = dict(type='GN', num_groups=8, requires_grad=True)
        act_cfg = dict(type='ReLU') if act_cfg is None else act_cfg
        _check_args(out_channels, decoder_channels, coef_pool, coef_grid,
                    branch, target_resize, no_target)
        if isinstance(loss_decode, tuple):
            loss_decode = list(loss_decode)
        super().__init__(
            in_channels, decoder_channels[-1], num_classes=num_classes,
            out_channels=out_channels, threshold=threshold, dropout_ratio=0,
            norm_cfg=norm_cfg, act_cfg=act_cfg, loss_decode=loss_decode,
            ignore_index=ignore_index, align_corners=align_corners,
            init_cfg=init_cfg, **kwargs)
        del self.conv_seg  # unused: Eq. 10 replaces it (DDP needs no strays)
        self.text_channels = text_channels
        self.num_masks = num_masks
        self.coef_pool = coef_pool
        self.coef_grid = tuple(coef_grid) if coef_grid is not None else None
        self.target_resize = target_resize
        self.branch = branch
        self._resize_target = _TARGET_RESIZES[target_resize]
        # CFS (+ WCG): the Table 2 row's layers, under the checkpoints' names
        adopt(self, 'decode_branch', _BRANCHES[(branch, coef_pool)](BranchConfig(
            in_channels, text_channels, num_layers, num_heads, ffn_ratio,
            dropout, attn_dropout, tuple(decoder_channels), num_masks,
            coef_channels, self.coef_grid, norm_cfg, act_cfg, align_corners)))
        # Generalized RIS: the no-target logit (our addition, off by default).
        self.no_target = NoTargetClassifier(in_channels, text_channels,
                                            **no_target) \
            if no_target is not None else None

    # ---------------------------------------------------------------- forward
    def forward(self, inputs: dict) -> torch.Tensor:
        """(B, 1, 8H, 8W) mask logits (Eq. 10, or the Table 2 branch)."""
        return self.decode_branch(inputs)[0]

    def forward_with_no_target(self, inputs: dict):
        """Mask logits (B, 1, 8H, 8W) and no-target logits (B,) (needs
        ``no_target``): one pass through the head."""
        if self.no_target is None:
            raise RuntimeError('this WGDAHead has no no-target output '
                               '(no_target=None)')
        seg_logits, fine = self.decode_branch(inputs)
        return seg_logits, self.no_target(fine, inputs['sent_feat'])

    def predict_with_no_target(self, inputs: dict, batch_img_metas: List[dict],
                               test_cfg: dict):
        """:meth:`predict`'s logits at the input size, and (B,) no-target
        probabilities (float32)."""
        seg_logits, nt_logits = self.forward_with_no_target(inputs)
        return self.predict_by_feat(seg_logits, batch_img_metas), \
            nt_logits.float().sigmoid()

    # ------------------------------------------------------------------- loss
    def resize_target(self, seg_label: torch.Tensor, size) -> torch.Tensor:
        """(B, 1, h, w) labels -> (B, h', w') loss target at the logit size
        (see :func:`resize_target_area`, :func:`resize_target_nearest`)."""
        if tuple(seg_label.shape[-2:]) == tuple(size):
            return resize_target_nearest(seg_label, size, self.ignore_index)
        return self._resize_target(seg_label, size, self.ignore_index)

    def loss(self, inputs: dict, batch_data_samples: List, train_cfg) -> dict:
        """mmseg's contract (forward, then :meth:`loss_by_feat`), plus
        ``loss_no_target`` / ``acc_no_target`` when ``no_target`` is on;
        no-target samples train the mask branch too, against their empty
        masks."""
        if self.no_target is None:
            return super().loss(inputs, batch_data_samples, train_cfg)
        seg_logits, nt_logits = self.forward_with_no_target(inputs)
        losses = self.loss_by_feat(seg_logits, batch_data_samples)
        losses.update(self.no_target.loss(nt_logits, batch_data_samples))
        return losses

    def loss_by_feat(self, seg_logits: torch.Tensor,
                     batch_data_samples: List) -> dict:
        """Focal + Dice (``loss_decode``) on the target resized to the logits.

        See :meth:`resize_target`; pixels labelled ``ignore_index`` (the
        padding) are ignored. Also logs ``acc_seg``, the pixel accuracy
        (percent) of sigmoid > threshold against the target > 0.5 on the
        valid pixels.
        """
        seg_label = self._stack_batch_gt(batch_data_samples)  # (B, 1, h, w)
        target = self.resize_target(seg_label, seg_logits.shape[-2:])
        logits = seg_logits.squeeze(1).float()
        losses_decode = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        loss = dict()
        for loss_module in losses_decode:
            value = loss_module(logits, target, ignore_index=self.ignore_index)
            name = loss_module.loss_name
            loss[name] = loss[name] + value if name in loss else value
        with torch.no_grad():
            valid = target != self.ignore_index
            pred = logits.sigmoid() > self.threshold
            correct = ((pred == (target > 0.5)) & valid).sum()
            loss['acc_seg'] = correct.float() * 100. / valid.sum().clamp(min=1)
        return loss
