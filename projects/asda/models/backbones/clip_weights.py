"""Pretrained CLIP weights for :class:`asda.CLIPBackbone`: where they are,
how they are read, and how an open_clip / OpenAI state dict maps onto the
backbone (only the parts it registers; positional embeddings resized to the
configured token grid and context length).
"""
import os
import os.path as osp
from types import SimpleNamespace
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log

__all__ = ['checkpoint_path', 'read_clip_state_dict', 'convert_clip_state_dict',
           'load_clip_weights']

_CKPT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')


def checkpoint_path(pretrained: str, model_name: Optional[str],
                    tag_cfg: Optional[dict]) -> str:
    """The local file of ``pretrained``: a path, or an open_clip tag of
    ``model_name`` (``tag_cfg``: its metadata) that open_clip downloads.

    Raises:
        FileNotFoundError: ``pretrained`` looks like a path that is missing.
        ValueError: neither a file nor a tag of ``model_name``.
    """
    path = os.path.expanduser(str(pretrained))
    if osp.isfile(path):
        return path
    if tag_cfg:
        from open_clip.pretrained import download_pretrained
        downloaded = download_pretrained(tag_cfg)
        if not downloaded:
            raise RuntimeError(f'open_clip could not resolve pretrained '
                               f'tag {pretrained!r} of {model_name!r}')
        return downloaded
    if os.sep in path or path.endswith(_CKPT_SUFFIXES) or model_name is None:
        raise FileNotFoundError(
            f'CLIPBackbone: pretrained checkpoint file not found: {path}')
    from open_clip.pretrained import list_pretrained_tags_by_model
    raise ValueError(
        f'CLIPBackbone: {pretrained!r} is neither a file nor an '
        f'open_clip pretrained tag of {model_name!r} (tags: '
        f'{list_pretrained_tags_by_model(model_name)})')


def read_clip_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """A CLIP state dict from an open_clip / OpenAI file, a
    ``{'state_dict': ...}`` checkpoint or an OpenAI TorchScript archive."""
    from open_clip.factory import load_state_dict
    try:
        state_dict = load_state_dict(path, device='cpu')
    except Exception as err:  # an OpenAI TorchScript archive
        try:
            state_dict = torch.jit.load(path, map_location='cpu').state_dict()
        except Exception:
            raise RuntimeError(
                f'CLIPBackbone: cannot read a CLIP state dict from {path}: '
                f'{err}') from err
    return {k: v for k, v in state_dict.items()
            if k not in ('input_resolution', 'context_length', 'vocab_size')}


def convert_clip_state_dict(state_dict: Dict[str, torch.Tensor],
                            num_blocks: int, grid_size,
                            context_length: int) -> Dict[str, torch.Tensor]:
    """Map an open_clip/OpenAI CLIP state dict onto the backbone.

    Drops the parts the backbone does not register (``logit_scale``,
    ``visual.ln_post``, ``visual.proj``, blocks from ``num_blocks`` on),
    resizes the visual positional embedding to ``grid_size`` (h, w) and cuts
    the text one (77, D) to ``context_length`` rows.
    """
    out = {}
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key in ('logit_scale', 'logit_bias'):
            continue
        if key.startswith('visual.'):
            if key.startswith(('visual.ln_post.', 'visual.proj',
                               'visual.attn_pool')):
                continue
            if key.startswith('visual.transformer.resblocks.') and \
                    int(key.split('.')[3]) >= num_blocks:
                continue
            out[key] = value
        elif key.startswith('text.'):  # CustomTextCLIP layout
            out[key] = value
        else:
            out['text.' + key] = value
    if 'visual.positional_embedding' in out:
        from open_clip.model import resize_pos_embed
        holder = {'visual.positional_embedding':
                  out['visual.positional_embedding'].float()}
        resize_pos_embed(holder, SimpleNamespace(
            visual=SimpleNamespace(grid_size=tuple(grid_size))))
        out['visual.positional_embedding'] = holder['visual.positional_embedding']
    if 'text.positional_embedding' in out:
        pos = out['text.positional_embedding']
        if pos.shape[0] < context_length:
            raise ValueError(
                f'the checkpoint holds {pos.shape[0]} text positions, '
                f'fewer than context_length={context_length}')
        out['text.positional_embedding'] = pos[:context_length]
    return out


def load_clip_weights(backbone: nn.Module, path: str) -> None:
    """Load CLIP weights from a local file into ``backbone`` (a
    :class:`asda.CLIPBackbone`); every backbone weight must be in it."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'CLIPBackbone: pretrained checkpoint file not found: {path}')
    state_dict = convert_clip_state_dict(
        read_clip_state_dict(path),
        num_blocks=len(backbone.visual.transformer.resblocks),
        grid_size=backbone.grid_size,
        context_length=backbone.context_length)
    missing, unexpected = backbone.load_state_dict(state_dict, strict=False)
    if missing:
        raise RuntimeError(f'CLIPBackbone: {path} lacks weights for {missing}')
    if unexpected:
        print_log(f'CLIPBackbone: ignored checkpoint keys {unexpected}',
                  logger='current')
    print_log(f'CLIPBackbone: loaded CLIP weights from {path}', logger='current')
