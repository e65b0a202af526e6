"""Stage one of the demo: contrastive pretraining of a (tiny) open_clip CLIP
on captioned synthetic scenes, the paper's first stage in miniature.

The model is the bare open_clip ``CLIP`` of a :class:`asda.CLIPBackbone`
config (same architecture, full 77-token text context, ``ln_post``, visual
projection and ``logit_scale`` included), trained on
:class:`asda.synthetic.captions.CaptionStream` batches, and saved as an
open_clip state dict that ``CLIPBackbone(pretrained=PATH)`` loads like
OpenAI's weights. The loss of a batch is the weighted sum of the terms of
:func:`loss_terms`:

* ``contrastive``: open_clip's ``ClipLoss`` of the (image, caption) pairs;
* ``dense``: region-phrase alignment (:class:`RegionPhraseLoss`, in the
  style of RegionCLIP and GLIP): each object's patch tokens at one layer,
  averaged under its mask and projected, against the text tower's
  embeddings of the world's 25 "colour shape" phrases. It learns shape
  faster per image than captions do. Its projection is a training aid: it
  is not part of the saved checkpoint, which stays a plain open_clip state
  dict.

A run is judged by its zero-shot figures (:func:`zero_shot_figures`:
retrieval, hard negatives, the shape probe of :mod:`asda.synthetic.probes`)
and reproduced by comparing them with a reference run's provenance file
(:func:`read_reference`, :func:`compare_runs`).

Shape letters: B batch, D embedding width, C visual width, N objects of a
batch, P phrases, H x W input, h x w token grid.
"""
import copy
import io
import json
import math
import os
import platform
import random
import time
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from open_clip.loss import ClipLoss
from open_clip.model import CLIP

from asda.models.backbones import CLIPBackbone
from asda.models.backbones.tokenizer import CLIPTokenizer
from asda.utils.atomic import atomic_write

from .captions import PHRASES, CaptionStream, draw_twin_group, scene_captions
from .probes import probe_layers, region_weights, run_probe
from .scenes import draw_scene, render_scene

__all__ = ['build_pretrain_clip', 'contrastive_loss', 'RegionPhraseLoss',
           'build_dense_term', 'DEFAULT_WEIGHTS', 'loss_terms',
           'heldout_set', 'evaluate_zero_shot', 'zero_shot_figures',
           'save_open_clip', 'lr_at', 'train_steps', 'comparable_figures',
           'read_reference', 'compare_runs', 'machine_info']

#: Text context of the pretraining model (open_clip's, as OpenAI's weights).
PRETRAIN_CONTEXT = 77
#: Weights of the loss terms (:func:`loss_terms`) unless a run sets them.
DEFAULT_WEIGHTS = dict(contrastive=1.0, dense=1.0)
#: The zero-shot figures a rerun must reproduce, besides the shape probe's.
ZERO_SHOT_KEYS = ('retrieval_top1', 'shape_negative_acc', 'position_negative_acc')


def build_pretrain_clip(backbone_cfg: dict):
    """The open_clip ``CLIP`` of a ``CLIPBackbone`` config dict (``type``
    ignored), with the full 77-token text context.

    Returns:
        tuple: (CLIP model, its tokenizer: list[str] -> (B, 77) ids).
    """
    cfg = {k: v for k, v in dict(backbone_cfg).items() if k != 'type'}
    cfg['pretrained'] = None
    backbone = CLIPBackbone(**cfg)
    clip_cfg = copy.deepcopy(backbone.clip_cfg)
    clip_cfg['text_cfg']['context_length'] = PRETRAIN_CONTEXT
    return CLIP(**clip_cfg), CLIPTokenizer(PRETRAIN_CONTEXT)


def contrastive_loss(model, images: torch.Tensor, tokens: torch.Tensor,
                     loss_fn=None) -> torch.Tensor:
    """open_clip's ``ClipLoss`` of B (image, caption) pairs (row i of each
    is a pair)."""
    loss_fn = loss_fn or ClipLoss()
    image_feats = model.encode_image(images, normalize=True)  # (B, D)
    text_feats = model.encode_text(tokens, normalize=True)  # (B, D)
    return loss_fn(image_feats, text_feats, model.logit_scale.exp())


class RegionPhraseLoss(torch.nn.Module):
    """Stage one's dense term: region-phrase alignment.

    Each object's tokens at visual layer ``layer`` are averaged under its
    mask (:func:`asda.synthetic.probes.region_weights`, as the shape probe
    reads them), projected to the embedding width and normalised; their
    scaled cosines with the P phrase embeddings are scored by cross-entropy
    against the object's own phrase (an InfoNCE over the phrases).

    Args:
        width (int): C, channels of the visual tokens.
        embed_dim (int): D, width of the text tower's embeddings.
        patch_size (tuple[int, int]): (ph, pw) of the visual tokens.
        layer (int): 1-based visual layer whose tokens are pooled.
        init_scale (float): Initial logit scale (learned, as CLIP's).
    """

    def __init__(self, width: int, embed_dim: int, patch_size: Tuple[int, int],
                 layer: int, init_scale: float = 1 / 0.07):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.layer = layer
        self.proj = torch.nn.Linear(width, embed_dim)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(init_scale)))

    def forward(self, tokens: torch.Tensor, masks: List[torch.Tensor],
                labels: torch.Tensor, phrase_feats: torch.Tensor
                ) -> torch.Tensor:
        """The term's value.

        Args:
            tokens (Tensor): (B, C, h, w) tokens of ``layer``.
            masks (list[Tensor]): per image its objects' (n_b, H, W) masks.
            labels (Tensor): (N,) phrase index of each object, images in
                order (N = sum of n_b).
            phrase_feats (Tensor): (P, D) normalised phrase embeddings.

        Returns:
            Tensor: the mean cross-entropy over the N objects.
        """
        # per image (n_b, h, w) x (C, h, w) -> (n_b, C); then (N, C)
        regions = torch.cat([
            torch.einsum('nhw,chw->nc',
                         region_weights(m, self.patch_size).to(tokens), tokens[b])
            for b, m in enumerate(masks)])
        feats = F.normalize(self.proj(regions), dim=-1)  # (N, D)
        logits = self.logit_scale.exp() * feats @ phrase_feats.T  # (N, P)
        return F.cross_entropy(logits.float(), labels)


def build_dense_term(model, layer: Optional[int] = None) -> RegionPhraseLoss:
    """The :class:`RegionPhraseLoss` of an open_clip ``CLIP`` at ``layer``
    (1-based; default its top layer)."""
    visual = model.visual
    return RegionPhraseLoss(
        width=visual.transformer.width, embed_dim=model.text_projection.shape[1],
        patch_size=visual.patch_size,
        layer=layer or len(visual.transformer.resblocks))


def loss_terms(model, tokenizer, batch: dict, weights: Dict[str, float],
               clip_loss, dense: Optional[RegionPhraseLoss] = None,
               device: str = 'cpu') -> Dict[str, torch.Tensor]:
    """The unweighted terms of one batch's loss, by name, for the terms of
    non-zero weight; training minimises their ``weights``-weighted sum.

    Args:
        batch (dict): a :class:`asda.synthetic.captions.CaptionStream` batch.
        weights (dict): weight of ``contrastive`` and ``dense``.
        clip_loss: open_clip's ``ClipLoss``.
        dense (RegionPhraseLoss, optional): needed for a dense weight > 0.

    Returns:
        dict: ``contrastive`` (:func:`contrastive_loss`'s value) and
        ``dense`` (:class:`RegionPhraseLoss`'s), each if weighted.
    """
    images = batch['images'].to(device)  # (B, 3, H, W)
    terms = {}
    if weights.get('dense', 0) > 0:
        if dense is None:
            raise ValueError('a dense weight needs a RegionPhraseLoss')
        out = model.visual.forward_intermediates(images, indices=[dense.layer - 1])
        pooled, tokens = out['image_features'], out['image_intermediates'][0]
    else:
        pooled, tokens = model.visual(images), None  # (B, D)
    if weights.get('contrastive', 0) > 0:
        text = model.encode_text(tokenizer(batch['captions']).to(device),
                                 normalize=True)  # (B, D)
        terms['contrastive'] = clip_loss(F.normalize(pooled, dim=-1), text,
                                         model.logit_scale.exp())
    if tokens is not None:
        phrase_feats = model.encode_text(tokenizer(list(PHRASES)).to(device),
                                         normalize=True)  # (P, D)
        labels = torch.tensor([PHRASES.index(p) for ps in batch['phrases']
                               for p in ps], device=device)  # (N,)
        terms['dense'] = dense(tokens, [m.to(device) for m in batch['masks']],
                               labels, phrase_feats)
    return terms


def heldout_set(seed: int, num: int, img_size: int = 224
                ) -> Dict[str, object]:
    """``num`` held-out scenes drawn from ``seed``, each with one caption
    (distinct texts, so that retrieval's chance is 1/num), and ``num``
    twin groups (base, shape twin, position twin) for the hard negatives.

    Returns:
        dict: ``images`` (num, 3, H, W), ``captions`` (num strs),
        ``twin_images`` (num, 3, 3, H, W), ``twin_captions`` (num x 3 strs).
    """
    rng = random.Random(seed)
    images, captions = [], []
    while len(captions) < num:
        scene = draw_scene(rng)
        free = [t for t, _ in scene_captions(scene, rng) if t not in captions]
        if free:
            # the longest caption: the most specific description
            captions.append(max(free, key=lambda t: (len(t.split()), t)))
            images.append(render_scene(scene, img_size)[0])
    twin_images, twin_captions = [], []
    for _ in range(num):
        group = draw_twin_group(rng)
        twin_images.append(torch.stack([render_scene(s, img_size)[0]
                                        for s, _ in group]))
        twin_captions.append([t for _, t in group])
    return dict(images=torch.stack(images), captions=captions,
                twin_images=torch.stack(twin_images),
                twin_captions=twin_captions)


@torch.no_grad()
def evaluate_zero_shot(model, tokenizer, heldout: dict,
                       shuffle_seed: int = 0) -> Dict[str, float]:
    """Zero-shot figures on a :func:`heldout_set`.

    Returns:
        dict: ``retrieval_top1`` (image -> caption among N, percent),
        ``chance_top1`` (100 / N), ``loss`` (ClipLoss of the true pairs),
        ``loss_shuffled`` (the same images with the captions permuted),
        ``shape_negative_acc`` / ``position_negative_acc`` (percent of
        images whose true caption scores above its shape / position twin's;
        chance 50).
    """
    model.eval()
    images, captions = heldout['images'], heldout['captions']
    n = len(captions)
    img = model.encode_image(images, normalize=True)  # (N, D)
    txt = model.encode_text(tokenizer(captions), normalize=True)  # (N, D)
    top1 = (img @ txt.T).argmax(1) == torch.arange(n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(shuffle_seed))
    scale = model.logit_scale.exp()
    loss = ClipLoss()(img, txt, scale).item()
    loss_shuffled = ClipLoss()(img, txt[perm], scale).item()
    # twins: (N, 3, ...) -> (3N, ...)
    t_img = model.encode_image(heldout['twin_images'].flatten(0, 1),
                               normalize=True).view(n, 3, -1)
    t_txt = model.encode_text(
        tokenizer([t for g in heldout['twin_captions'] for t in g]),
        normalize=True).view(n, 3, -1)
    # (N, 3 images, 3 captions) similarities
    sim = torch.einsum('nid,njd->nij', t_img, t_txt)
    shape_ok = torch.cat([sim[:, 0, 0] > sim[:, 0, 1], sim[:, 1, 1] > sim[:, 1, 0]])
    pos_ok = torch.cat([sim[:, 0, 0] > sim[:, 0, 2], sim[:, 2, 2] > sim[:, 2, 0]])
    return dict(retrieval_top1=100.0 * top1.float().mean().item(),
                chance_top1=100.0 / n, num_heldout=n, loss=loss,
                loss_shuffled=loss_shuffled,
                shape_negative_acc=100.0 * shape_ok.float().mean().item(),
                position_negative_acc=100.0 * pos_ok.float().mean().item())


def zero_shot_figures(model, tokenizer, heldout: dict, cfg: Config,
                      probe_path: str, probe_seed: int,
                      probe_scenes: Tuple[int, int]) -> dict:
    """:func:`evaluate_zero_shot` of ``model`` (on the CPU) and, under
    ``shape_probe`` by layer, the shape probe of the config's backbone
    loaded from ``model`` (saved to ``probe_path`` and read back through
    ``CLIPBackbone(pretrained=)``, as training will load it)."""
    model.cpu()
    out = evaluate_zero_shot(model, tokenizer, heldout)
    save_open_clip(model, probe_path)
    probe = run_probe(cfg, probe_path, probe_seed, *probe_scenes)
    out['shape_probe'] = {str(k): v for k, v in probe.items()}
    return out


def lr_at(step: int, total: int, base_lr: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base_lr * (1 + math.cos(math.pi * min(1.0, progress)))


def _adamw(modules: torch.nn.ModuleDict, lr: float, weight_decay: float
           ) -> torch.optim.AdamW:
    """AdamW without decay on gains, biases, embeddings and logit
    scales."""
    decay, no_decay = [], []
    for name, p in modules.named_parameters():
        flat = p.ndim < 2 or 'embedding' in name or 'logit_scale' in name
        (no_decay if flat else decay).append(p)
    return torch.optim.AdamW([dict(params=decay, weight_decay=weight_decay),
                              dict(params=no_decay, weight_decay=0.0)], lr=lr)


def _as_is(batch):
    """A DataLoader's collate for a stream whose items are whole batches."""
    return batch


def train_steps(model, tokenizer, stream: CaptionStream, steps: int,
                lr: float = 5e-4, weight_decay: float = 0.1,
                warmup: Optional[int] = None, log_every: int = 10,
                log=print, device: str = 'cpu',
                weights: Optional[Dict[str, float]] = None,
                dense: Optional[RegionPhraseLoss] = None, workers: int = 0,
                amp: bool = False, max_seconds: Optional[float] = None
                ) -> List[dict]:
    """Train ``model`` (and the dense term's projection) on ``device`` for
    ``steps`` batches of ``stream`` (batches 0 .. steps-1, rendered by
    ``workers`` processes) on the ``weights``-weighted sum of
    :func:`loss_terms` (AdamW, no decay on gains, biases, embeddings and
    logit scales; warm-up then cosine, :func:`lr_at`; gradient norm clipped
    at 1; bf16 autocast if ``amp``). Stops early once ``max_seconds`` of
    training have passed.

    Returns:
        list[dict]: every ``log_every`` steps (and the last): ``step``,
        ``loss`` (the weighted sum) and each term's value.
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    warmup = max(1, steps // 20) if warmup is None else warmup
    modules = torch.nn.ModuleDict(dict(clip=model))
    if dense is not None:
        modules['dense'] = dense.to(device)
    opt = _adamw(modules, lr, weight_decay)
    clip_loss = ClipLoss()
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, sampler=range(steps), num_workers=workers,
        collate_fn=_as_is)
    history, start = [], time.time()
    modules.train()
    for step, batch in enumerate(loader):
        for group in opt.param_groups:
            group['lr'] = lr_at(step, steps, lr, warmup)
        with torch.autocast(device.split(':')[0], torch.bfloat16, enabled=amp):
            terms = loss_terms(model, tokenizer, batch, weights, clip_loss,
                               dense, device)
        loss = sum(weights[k] * v.float() for k, v in terms.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(modules.parameters(), 1.0)
        opt.step()
        with torch.no_grad():  # CLIP's clamp of the temperature
            for name, p in modules.named_parameters():
                if name.endswith('logit_scale'):
                    p.clamp_(0, math.log(100))
        last = step + 1 == steps or (
            max_seconds is not None and time.time() - start > max_seconds)
        if (step + 1) % log_every == 0 or last:
            record = dict(step=step + 1, loss=loss.item(),
                          **{k: v.item() for k, v in terms.items()})
            history.append(record)
            log(f'step {step + 1}/{steps}  loss {loss.item():.4f}  ' +
                ''.join(f'{k} {v.item():.4f}  ' for k, v in terms.items()) +
                f'lr {opt.param_groups[0]["lr"]:.2e}  '
                f'scale {model.logit_scale.exp().item():.1f}')
        if last:
            break
    return history


def save_open_clip(model, path: str, half: bool = True) -> None:
    """Write the model's state dict (fp16 if ``half``) as an open_clip
    checkpoint, atomically."""
    state = {k: (v.half() if half and v.is_floating_point() else v).clone()
             for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, buf.getvalue())


# ------------------------------------------------------------ reproduction
def comparable_figures(zero_shot: dict) -> dict:
    """The zero-shot figures a rerun must reproduce (percent): retrieval
    top-1, the hard-negative accuracies, the shape probe at every layer."""
    figures = {k: zero_shot[k] for k in ZERO_SHOT_KEYS}
    figures.update({f'shape_probe_layer_{k}': v['accuracy']
                    for k, v in zero_shot['shape_probe'].items()})
    return figures


def read_reference(path: str, cfg: Config) -> dict:
    """A reference run's provenance file, read and checked before a run
    that will be compared with it: its :func:`comparable_figures` must be
    numbers, and the run (of ``cfg``) must measure each of them (the shape
    probe at the config's :func:`asda.synthetic.probes.probe_layers`).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not JSON, or a figure missing, not a number, or one
            the run will not measure; the message names the file and the
            figure.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'--compare: no such file {path}')
    try:
        with open(path, encoding='utf-8') as f:
            reference = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f'--compare {path}: not a JSON file ({err})') from None
    try:
        figures = comparable_figures(reference['zero_shot'])
    except (KeyError, TypeError) as err:
        raise ValueError(f'--compare {path}: not a pretraining provenance file '
                         f'(zero_shot: no {err})') from None
    bad = {k: v for k, v in figures.items() if isinstance(v, bool) or
           not isinstance(v, (int, float)) or not math.isfinite(v)}
    if bad:
        raise ValueError(f'--compare {path}: figures that are not numbers: {bad}')
    measured = set(ZERO_SHOT_KEYS) | {f'shape_probe_layer_{k}'
                                      for k in probe_layers(cfg)}
    unmeasured = sorted(set(figures) - measured)
    if unmeasured:
        raise ValueError(f'--compare {path}: the reference has figures this run '
                         f'will not measure: {unmeasured}')
    return reference


def compare_runs(new: dict, reference: dict, tolerance: float) -> list:
    """(name, new, reference, within tolerance) for each figure of
    :func:`comparable_figures` of two provenance dicts."""
    ours = comparable_figures(new['zero_shot'])
    theirs = comparable_figures(reference['zero_shot'])
    missing = sorted(set(theirs) - set(ours))
    if missing:
        raise ValueError(f'the reference has figures this run lacks: {missing}')
    return [(name, ours[name], value, abs(ours[name] - value) <= tolerance)
            for name, value in theirs.items()]


def machine_info(device: str) -> dict:
    """The machine a run trained on, for its provenance."""
    info = dict(host=platform.node(), platform=platform.platform(),
                cpu=platform.processor() or platform.machine(),
                cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
                device=device, torch=torch.__version__)
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(device)
    return info
