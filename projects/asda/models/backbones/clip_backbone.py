"""CLIP image and text towers (open_clip) as an mmseg backbone.

:class:`CLIPBackbone` builds an open_clip ``CLIP`` (from an open_clip config
name such as ``'ViT-B-16'`` or from an explicit ``model_cfg`` dict, through
the same code path) and keeps only the parts ASDA uses:

* visual: patch embedding, class token, positional embedding, ``ln_pre`` and
  the transformer blocks up to the deepest requested layer. ``ln_post``, the
  visual projection, ``logit_scale`` / ``logit_bias`` and deeper blocks are
  not registered, so every parameter receives a gradient and DDP runs with
  ``find_unused_parameters=False``.
* text: token and positional embeddings, the causal transformer, ``ln_final``
  and the text projection, with the positional embedding and the causal mask
  cut to ``context_length``.

Outputs (a dict, the same in training and evaluation):

``'visual_feats'``
    list of (B, C, h, w) patch tokens of the layers in ``out_indices``
    (1-based; the raw residual stream after that block, no ``ln_post``:
    exactly open_clip's ``forward_intermediates`` intermediates).
``'cls_tokens'``
    list of (B, C) class tokens of the same layers.
``'layers'``
    tuple of the layer numbers, aligned with the two lists above.
``'word_feats'``
    f_T, (B, L, D): every token after ``ln_final`` and the text projection
    (as CRIS / ETRIS take word features).
``'word_mask'``
    (B, L) bool, True = padding (the positions after the end-of-text token).
``'sent_feat'``
    f_E, (B, D): f_T at the end-of-text token, i.e. open_clip's
    ``encode_text(normalize=False)``.

Pretrained weights are loaded in :meth:`CLIPBackbone.init_weights`, never in
``__init__``: an open_clip tag (``'openai'``, resolved and downloaded by
open_clip on the user's machine) or a local checkpoint (open_clip / OpenAI
state dict, a ``{'state_dict': ...}`` checkpoint or an OpenAI TorchScript
archive). The visual positional embedding is resized (bicubic, open_clip's
helper) to the configured token grid, the text one is cut to the context
length.
(:mod:`asda.models.backbones.clip_weights` finds, reads and converts
them.) Expressions are tokenised by
:class:`asda.models.backbones.tokenizer.CLIPTokenizer` (``self.tokenizer``).
"""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch.utils.checkpoint import checkpoint

from .clip_weights import checkpoint_path, load_clip_weights
from .tokenizer import CLIPTokenizer

__all__ = ['CLIPBackbone']


def _to_2tuple(x: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(x, int):
        return (x, x)
    x = tuple(int(v) for v in x)
    assert len(x) == 2, f'expected an int or a pair, got {x}'
    return x


def _plain(obj):
    """ConfigDict / tuples -> plain dicts and lists (for open_clip's cfgs)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


class _TextTower(nn.Module):
    """The parts of open_clip's CLIP text encoder that ASDA uses."""

    def __init__(self, clip: nn.Module, context_length: int):
        super().__init__()
        self.token_embedding = clip.token_embedding
        self.positional_embedding = clip.positional_embedding
        self.transformer = clip.transformer
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection
        self.context_length = context_length
        self.register_buffer('attn_mask', clip.attn_mask, persistent=False)
        if getattr(clip, 'text_pool_type', 'argmax') != 'argmax':
            raise ValueError('CLIPBackbone supports text towers pooled at the '
                             'end-of-text token (pool_type="argmax")')

    @property
    def out_channels(self) -> int:
        proj = self.text_projection
        if proj is None:
            return self.transformer.width
        if isinstance(proj, nn.Linear):
            return proj.out_features
        return proj.shape[1]

    def forward(self, tokens: torch.Tensor):
        length = tokens.shape[1]
        if length > self.context_length:
            raise ValueError(f'{length} tokens exceed the context length '
                             f'{self.context_length}')
        cast_dtype = self.transformer.get_cast_dtype()
        x = self.token_embedding(tokens).to(cast_dtype)
        x = x + self.positional_embedding[:length].to(cast_dtype)
        attn_mask = self.attn_mask[:length, :length]
        x = self.transformer(x, attn_mask=attn_mask)
        x = self.ln_final(x)
        proj = self.text_projection
        if isinstance(proj, nn.Linear):
            x = proj(x)
        elif proj is not None:
            x = x @ proj
        # The end-of-text token has the largest id (open_clip's 'argmax').
        eot = tokens.argmax(dim=-1)
        sent = x[torch.arange(x.shape[0], device=x.device), eot]
        positions = torch.arange(length, device=tokens.device)
        pad_mask = positions[None, :] > eot[:, None]
        return x, pad_mask, sent


def _check_out_indices(out_indices: Sequence[int], num_layers: int
                       ) -> Tuple[int, ...]:
    """``out_indices`` as a tuple of increasing 1-based layer numbers in
    [1, ``num_layers``], or a ValueError."""
    out_indices = tuple(int(i) for i in out_indices)
    if not out_indices or min(out_indices) < 1 or \
            max(out_indices) > num_layers or \
            list(out_indices) != sorted(set(out_indices)):
        raise ValueError(f'out_indices must be increasing 1-based layer '
                         f'numbers in [1, {num_layers}], got {out_indices}')
    return out_indices


@MODELS.register_module()
class CLIPBackbone(BaseModule):
    """open_clip CLIP ViT image and text encoders for referring segmentation.

    Args:
        model_name (str): open_clip config name (``'ViT-B-16'``,
            ``'ViT-L-14'``, ...). Ignored when ``model_cfg`` is given.
        model_cfg (dict, optional): An explicit open_clip CLIP config
            (``embed_dim``, ``vision_cfg``, ``text_cfg``, optional
            ``quick_gelu``), e.g. a small random-init CLIP for tests.
        pretrained (str, optional): None (random init), an open_clip
            pretrained tag of ``model_name`` (``'openai'``), or a local
            checkpoint path. Loaded by :meth:`init_weights`.
        img_size (int | tuple[int, int]): Input size the visual positional
            embedding is built for (416 -> a 26 x 26 grid for patch 16).
            Other sizes divisible by the patch size are accepted at forward
            time: the embedding is then interpolated (bicubic) on the fly.
        context_length (int): Text context length L (17 for RefCOCO/+, 22
            for G-Ref), including the SOT and EOT tokens.
        out_indices (Sequence[int]): 1-based visual layers to return.
        quick_gelu (bool, optional): Force QuickGELU on (True) or off
            (False). None: the config's setting, or the pretrained tag's
            (OpenAI weights need QuickGELU).
        frozen_stages (int): -1 freezes nothing; 0 freezes the visual patch
            embedding, class token, positional embedding and ``ln_pre``;
            k > 0 also the first k visual blocks.
        freeze_visual (bool): Freeze the whole visual tower.
        freeze_text (bool): Freeze the whole text tower.
        with_cp (bool): Gradient checkpointing of the transformer blocks.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 model_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 img_size: Union[int, Sequence[int]] = 416,
                 context_length: int = 17,
                 out_indices: Sequence[int] = (4, 5, 6, 7, 8, 9, 10, 11, 12),
                 quick_gelu: Optional[bool] = None,
                 frozen_stages: int = -1,
                 freeze_visual: bool = False,
                 freeze_text: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        from open_clip.model import CLIP

        self.model_name = None if model_cfg is not None else model_name
        self.pretrained = pretrained
        self.img_size = _to_2tuple(img_size)
        self.context_length = int(context_length)
        self.frozen_stages = frozen_stages
        self.freeze_visual = freeze_visual
        self.freeze_text = freeze_text
        self.with_cp = with_cp

        cfg = self._clip_cfg(model_name, model_cfg, quick_gelu)
        # The open_clip config the towers were built from (tools build the
        # bare open_clip CLIP of the same architecture from it).
        self.clip_cfg = copy.deepcopy(cfg)
        clip = CLIP(**cfg)
        self.num_layers = len(clip.visual.transformer.resblocks)
        self.out_indices = _check_out_indices(out_indices, self.num_layers)

        visual = clip.visual
        # Drop ln_post, the visual projection and blocks past the deepest
        # requested layer: unused parameters would break DDP's default.
        visual.prune_intermediate_layers(
            indices=[i - 1 for i in self.out_indices],
            prune_norm=True,
            prune_head=True)
        self.visual = visual
        self.patch_size = _to_2tuple(visual.patch_size)
        self.grid_size = tuple(visual.grid_size)
        self.text = _TextTower(clip, self.context_length)
        self.text_channels = self.text.out_channels
        self.tokenizer = CLIPTokenizer(self.context_length)
        del clip
        self._freeze()

    # ------------------------------------------------------------------ build
    def _clip_cfg(self, model_name: str, model_cfg: Optional[dict],
                  quick_gelu: Optional[bool]) -> dict:
        """The open_clip CLIP config the towers are built from: the named
        or given one, checked (ViT + text transformer, class token), set to
        this backbone's image size and context length, without the parts
        the backbone does not use (logit scale / bias)."""
        if model_cfg is not None:
            cfg = copy.deepcopy(_plain(dict(model_cfg)))
        else:
            from open_clip import get_model_config
            cfg = get_model_config(model_name)
            if cfg is None:
                from open_clip import list_models
                raise ValueError(f'unknown open_clip model {model_name!r}; '
                                 f'known: {list_models()}')
            cfg = copy.deepcopy(cfg)
        for key in ('embed_dim', 'vision_cfg', 'text_cfg'):
            if key not in cfg:
                raise ValueError(f'CLIP model_cfg lacks {key!r}')
        vision_cfg = cfg['vision_cfg'] = dict(cfg['vision_cfg'])
        text_cfg = cfg['text_cfg'] = dict(cfg['text_cfg'])
        for key in ('timm_model_name', 'hf_model_name'):
            if vision_cfg.get(key) or text_cfg.get(key):
                raise ValueError(f'CLIPBackbone supports open_clip ViT/text '
                                 f'transformer towers, not {key}')
        if not isinstance(vision_cfg.get('layers', 12), int):
            raise ValueError('CLIPBackbone needs a ViT visual tower '
                             '(vision_cfg.layers must be an int)')
        if vision_cfg.get('attentional_pool') or \
                vision_cfg.get('pool_type', 'tok') != 'tok':
            raise ValueError('CLIPBackbone needs a class-token ViT')
        vision_cfg['image_size'] = self.img_size
        text_cfg['context_length'] = self.context_length
        if quick_gelu is None:
            quick_gelu = bool(cfg.get('quick_gelu', False)) or \
                self._tag_quick_gelu()
        cfg['quick_gelu'] = bool(quick_gelu)
        for key in ('custom_text', 'init_logit_scale', 'init_logit_bias',
                    'nonscalar_logit_scale'):
            cfg.pop(key, None)
        return cfg

    def _pretrained_tag_cfg(self) -> Optional[dict]:
        """open_clip's metadata for a pretrained tag (no download)."""
        if not self.pretrained or self.model_name is None or \
                osp.isfile(self.pretrained):
            return None
        from open_clip.pretrained import get_pretrained_cfg
        return get_pretrained_cfg(self.model_name, self.pretrained) or None

    def _tag_quick_gelu(self) -> bool:
        tag_cfg = self._pretrained_tag_cfg()
        return bool(tag_cfg.get('quick_gelu', False)) if tag_cfg else False

    def _freeze(self) -> None:
        frozen: List[nn.Module] = []
        v = self.visual
        if self.freeze_visual:
            frozen.append(v)
        elif self.frozen_stages >= 0:
            frozen += [v.conv1, v.ln_pre]
            v.class_embedding.requires_grad_(False)
            v.positional_embedding.requires_grad_(False)
            frozen += list(v.transformer.resblocks[:self.frozen_stages])
        if self.freeze_text:
            frozen.append(self.text)
        self._frozen_modules = frozen
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        for m in getattr(self, '_frozen_modules', []):
            m.eval()
        return self

    # ---------------------------------------------------------------- weights
    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained:
            load_clip_weights(self, checkpoint_path(
                self.pretrained, self.model_name, self._pretrained_tag_cfg()))

    # ---------------------------------------------------------------- forward
    def tokenize(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        """Strings -> (B, context_length) token ids (CPU)."""
        return self.tokenizer(texts)

    def _visual_pos_embed(self, h: int, w: int) -> torch.Tensor:
        pos = self.visual.positional_embedding
        if (h, w) == self.grid_size:
            return pos
        gh, gw = self.grid_size
        cls_pos, grid_pos = pos[:1], pos[1:]
        grid_pos = grid_pos.reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
        grid_pos = F.interpolate(
            grid_pos, size=(h, w), mode='bicubic', align_corners=False)
        grid_pos = grid_pos.permute(0, 2, 3, 1).reshape(h * w, -1)
        return torch.cat([cls_pos, grid_pos], dim=0)

    def forward_visual(self, img: torch.Tensor
                       ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Patch tokens (B, C, h, w) and class tokens (B, C) per out layer."""
        H, W = img.shape[-2:]
        ph, pw = self.patch_size
        if H % ph or W % pw:
            raise ValueError(f'input size {(H, W)} is not divisible by the '
                             f'patch size {(ph, pw)}')
        v = self.visual
        x = v.conv1(img)
        B, C, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        cls = v.class_embedding.to(x.dtype).view(1, 1, -1).expand(B, -1, -1)
        x = torch.cat([cls, x], dim=1)
        x = x + self._visual_pos_embed(h, w).to(x.dtype)
        x = v.patch_dropout(x)
        x = v.ln_pre(x)
        feats, cls_tokens = [], []
        take = set(self.out_indices)
        for i, block in enumerate(v.transformer.resblocks, start=1):
            if self.with_cp and self.training and x.requires_grad:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
            if i in take:
                cls_tokens.append(x[:, 0])
                feats.append(x[:, 1:].transpose(1, 2).reshape(B, C, h, w))
        return feats, cls_tokens

    def forward_text(self, texts: Union[Sequence[str], torch.Tensor],
                     device: Optional[torch.device] = None):
        """f_T (B, L, D), padding mask (B, L) True = pad, f_E (B, D)."""
        if isinstance(texts, torch.Tensor):
            tokens = texts
        else:
            tokens = self.tokenize(list(texts))
        if device is not None:
            tokens = tokens.to(device)
        return self.text(tokens.long())

    def forward(self, img: torch.Tensor,
                texts: Union[Sequence[str], torch.Tensor]) -> dict:
        """Encode images and their expressions.

        Args:
            img (Tensor): (B, 3, H, W), H and W divisible by the patch size.
            texts (list[str] | Tensor): B expressions, or token ids (B, L').

        Returns:
            dict: see the module docstring.
        """
        if len(texts) != img.shape[0]:
            raise ValueError(f'{len(texts)} expressions for {img.shape[0]} '
                             f'images')
        feats, cls_tokens = self.forward_visual(img)
        words, word_mask, sent = self.forward_text(texts, device=img.device)
        return dict(
            visual_feats=feats,
            cls_tokens=cls_tokens,
            layers=self.out_indices,
            word_feats=words,
            word_mask=word_mask,
            sent_feat=sent)
