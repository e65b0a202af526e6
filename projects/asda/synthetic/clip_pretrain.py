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

from .captions import (
    PHRASES,
    TWIN_KINDS,
    CaptionStream,
    draw_twin_group,
    referring_expressions,
    scene_captions,
)
from .dense_terms import DENSE_TERMS
from .probes import (
    COSINE_DECIMALS,
    RELATION_PAIRS,
    probe_layers,
    row_cosines,
    run_probe,
    text_cosines,
)
from .scenes import draw_scene, render_scene

__all__ = ['build_pretrain_clip', 'contrastive_loss',
           'build_dense_terms', 'DEFAULT_WEIGHTS', 'loss_terms',
           'heldout_set', 'evaluate_zero_shot', 'zero_shot_figures',
           'save_open_clip', 'lr_at', 'train_steps', 'comparable_figures',
           'read_reference', 'compare_runs']

#: Text context of the pretraining model (open_clip's, as OpenAI's weights).
PRETRAIN_CONTEXT = 77
#: Weights of the loss terms (:func:`loss_terms`) unless a run sets them.
DEFAULT_WEIGHTS = dict(contrastive=1.0, dense=1.0, grounding=1.0)
#: The zero-shot figures a rerun must reproduce, besides the shape probe's.
ZERO_SHOT_KEYS = ('retrieval_top1', 'shape_negative_acc', 'position_negative_acc',
                  'size_negative_acc')


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


def build_dense_terms(model, weights: Dict[str, float],
                      layer: Optional[int] = None) -> torch.nn.ModuleDict:
    """The dense terms (:data:`asda.synthetic.dense_terms.DENSE_TERMS`) of
    non-zero weight in ``weights``, for an open_clip ``CLIP``, each reading
    the tokens of visual ``layer`` (1-based; default the top layer)."""
    visual = model.visual
    layer = layer or len(visual.transformer.resblocks)
    return torch.nn.ModuleDict({
        name: cls(width=visual.transformer.width,
                  embed_dim=model.text_projection.shape[1],
                  patch_size=visual.patch_size, layer=layer)
        for name, cls in DENSE_TERMS.items() if weights.get(name, 0) > 0})


def _grounding_inputs(batch: dict, device) -> tuple:
    """The grounding term's inputs from a batch's ``expressions``: texts,
    (E,) image of each, (E,) index of each one's object among the batch's
    objects (images in order)."""
    texts, index, targets, offset = [], [], [], 0
    for b, (exprs, masks) in enumerate(zip(batch['expressions'], batch['masks'])):
        for text, i, _ in exprs:
            texts.append(text)
            index.append(b)
            targets.append(offset + i)
        offset += len(masks)
    return (texts, torch.tensor(index, device=device),
            torch.tensor(targets, device=device))


def loss_terms(model, tokenizer, batch: dict, weights: Dict[str, float],
               clip_loss, dense: Optional[torch.nn.ModuleDict] = None,
               device: str = 'cpu') -> Dict[str, torch.Tensor]:
    """The unweighted terms of one batch's loss, by name, for the terms of
    non-zero weight; training minimises their ``weights``-weighted sum.

    Args:
        batch (dict): a :class:`asda.synthetic.captions.CaptionStream` batch.
        weights (dict): weight of ``contrastive`` and of each dense term.
        clip_loss: open_clip's ``ClipLoss``.
        dense (ModuleDict, optional): the dense terms
            (:func:`build_dense_terms`), needed for a dense weight > 0.

    Returns:
        dict: ``contrastive`` (:func:`contrastive_loss`'s value), ``dense``
        (:class:`RegionPhraseLoss`'s) and ``grounding``
        (:class:`PhraseGroundingLoss`'s), each if weighted.
    """
    images = batch['images'].to(device)  # (B, 3, H, W)
    dense = dense if dense is not None else {}
    missing = [n for n in DENSE_TERMS if weights.get(n, 0) > 0 and n not in dense]
    if missing:
        raise ValueError(f'a {missing[0]} weight needs its term '
                         f'({DENSE_TERMS[missing[0]].__name__})')
    used = [t for n, t in dense.items() if weights.get(n, 0) > 0]
    terms = {}
    if used:
        layers = sorted({t.layer for t in used})
        out = model.visual.forward_intermediates(
            images, indices=[layer - 1 for layer in layers])
        pooled = out['image_features']
        tokens = dict(zip(layers, out['image_intermediates']))
    else:
        pooled = model.visual(images)  # (B, D)
    if weights.get('contrastive', 0) > 0:
        text = model.encode_text(tokenizer(batch['captions']).to(device),
                                 normalize=True)  # (B, D)
        terms['contrastive'] = clip_loss(F.normalize(pooled, dim=-1), text,
                                         model.logit_scale.exp())
    if 'dense' in dense and weights.get('dense', 0) > 0:
        phrase_feats = model.encode_text(tokenizer(list(PHRASES)).to(device),
                                         normalize=True)  # (P, D)
        labels = torch.tensor([PHRASES.index(p) for ps in batch['phrases']
                               for p in ps], device=device)  # (N,)
        term = dense['dense']
        terms['dense'] = term(tokens[term.layer],
                              [m.to(device) for m in batch['masks']],
                              labels, phrase_feats)
    if 'grounding' in dense and weights.get('grounding', 0) > 0:
        term = dense['grounding']
        texts, index, targets = _grounding_inputs(batch, device)
        if texts:
            text_feats = model.encode_text(tokenizer(texts).to(device),
                                           normalize=True)  # (E, D)
            terms['grounding'] = term(tokens[term.layer],
                                      [m.to(device) for m in batch['masks']],
                                      index, targets, text_feats)
        else:  # no object of the batch has an expression
            terms['grounding'] = tokens[term.layer].sum() * 0
    return terms


def heldout_set(seed: int, num: int, img_size: int = 224
                ) -> Dict[str, object]:
    """``num`` held-out scenes drawn from ``seed``, each with one caption
    (distinct texts, so that retrieval's chance is 1/num), and ``num``
    twin groups (base, then its twin of each kind of
    :data:`asda.synthetic.captions.TWIN_KINDS`) for the hard negatives.

    Returns:
        dict: ``images`` (num, 3, H, W), ``captions`` (num strs),
        ``twin_images`` (num, G, 3, H, W) and ``twin_captions`` (num x G
        strs), G = 1 + len(TWIN_KINDS), and ``grounding``
        (:func:`grounding_set`).
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
                twin_captions=twin_captions,
                grounding=grounding_set(seed, num, img_size))


@torch.no_grad()
def evaluate_zero_shot(model, tokenizer, heldout: dict,
                       shuffle_seed: int = 0) -> Dict[str, float]:
    """Zero-shot figures on a :func:`heldout_set`.

    Returns:
        dict: ``retrieval_top1`` (image -> caption among N, percent),
        ``chance_top1`` (100 / N), ``loss`` (ClipLoss of the true pairs),
        ``loss_shuffled`` (the same images with the captions permuted),
        ``<kind>_negative_acc`` for each twin kind of
        :data:`asda.synthetic.captions.TWIN_KINDS` (percent of images whose
        true caption scores above its twin's, both ways; chance 50),
        ``twin_cosines``: for each twin kind, the mean cosine of a base
        scene's ``image`` embedding with its twin's and of its ``caption``
        embedding with its twin's, rounded to
        :data:`asda.synthetic.probes.COSINE_DECIMALS` (the nearer 1, the less
        that tower tells the pair apart: identical image embeddings give
        that twin's accuracy 50, identical caption embeddings 0, a tie
        counting as a miss), and ``text_cosines``
        (:func:`asda.synthetic.probes.text_cosines`).
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
    g = heldout['twin_images'].shape[1]
    # twins: (N, G, ...) -> (NG, ...)
    t_img = model.encode_image(heldout['twin_images'].flatten(0, 1),
                               normalize=True).view(n, g, -1)
    t_txt = model.encode_text(
        tokenizer([t for grp in heldout['twin_captions'] for t in grp]),
        normalize=True).view(n, g, -1)
    # (N, G images, G captions) similarities
    sim = torch.einsum('nid,njd->nij', t_img, t_txt)
    twins, twin_cosines = {}, {}
    for k, kind in enumerate(TWIN_KINDS, start=1):
        ok = torch.cat([sim[:, 0, 0] > sim[:, 0, k], sim[:, k, k] > sim[:, k, 0]])
        twins[f'{kind}_negative_acc'] = 100.0 * ok.float().mean().item()
        twin_cosines[kind] = {
            name: round(row_cosines(feats[:, 0], feats[:, k]).mean().item(), COSINE_DECIMALS)
            for name, feats in (('image', t_img), ('caption', t_txt))}
    return dict(retrieval_top1=100.0 * top1.float().mean().item(),
                chance_top1=100.0 / n, num_heldout=n, loss=loss,
                loss_shuffled=loss_shuffled, **twins, twin_cosines=twin_cosines,
                text_cosines=text_cosines(
                    lambda texts: model.encode_text(tokenizer(texts), normalize=True)))


def grounding_set(seed: int, num: int, img_size: int = 224) -> dict:
    """``num`` held-out scenes, each with every object's referring
    expressions drawn as the grounding term draws them
    (:func:`asda.synthetic.captions.referring_expressions`).

    Returns:
        dict: ``images`` (num, 3, H, W), per image its objects' ``masks``
        (n, H, W) and ``expressions`` (text, object index, kind).
    """
    rng = random.Random(f'grounding/{seed}')
    images, masks, expressions = [], [], []
    while len(images) < num:
        scene = draw_scene(rng)
        exprs = referring_expressions(scene, rng, len(scene['objects']))
        if exprs:
            img, m = render_scene(scene, img_size)
            images.append(img)
            masks.append(m)
            expressions.append(exprs)
    return dict(images=torch.stack(images), masks=masks, expressions=expressions)


@torch.no_grad()
def evaluate_grounding(model, tokenizer, term, grounding: dict) -> Dict[str, float]:
    """How often the grounding term picks an expression's object among its
    scene's objects, by expression kind and in all (percent).

    Args:
        term (ObjectGroundingLoss): the trained grounding term.
        grounding (dict): a :func:`grounding_set`.
    """
    model.eval()
    tokens = model.visual.forward_intermediates(
        grounding['images'], indices=[term.layer - 1])['image_intermediates'][0]
    hits: Dict[str, List[bool]] = {}
    for b, (exprs, masks) in enumerate(zip(grounding['expressions'],
                                           grounding['masks'])):
        feats = model.encode_text(tokenizer([t for t, _, _ in exprs]),
                                  normalize=True)  # (E, D)
        logits = term.object_logits(tokens[b:b + 1], [masks],
                                    torch.zeros(len(exprs), dtype=torch.long),
                                    feats)  # (E, n)
        for (_, i, kind), pick in zip(exprs, logits.argmax(1).tolist()):
            hits.setdefault(kind, []).append(pick == i)
    out = {kind: 100.0 * sum(v) / len(v) for kind, v in sorted(hits.items())}
    every = [h for v in hits.values() for h in v]
    out['all'] = 100.0 * sum(every) / len(every)
    return out


def zero_shot_figures(model, tokenizer, heldout: dict, cfg: Config,
                      probe_path: str, probe_seed: int,
                      probe_scenes: Tuple[int, int],
                      dense: Optional[torch.nn.ModuleDict] = None) -> dict:
    """:func:`evaluate_zero_shot` of ``model`` (on the CPU), under
    ``grounding`` the held-out grounding accuracy (:func:`
    evaluate_grounding`, when ``dense`` has a grounding term and
    ``heldout`` a ``grounding`` set) and, under ``shape_probe`` by layer,
    the shape probe of the config's backbone loaded from ``model`` (saved
    to ``probe_path`` and read back through ``CLIPBackbone(pretrained=)``,
    as training will load it)."""
    model.cpu()
    out = evaluate_zero_shot(model, tokenizer, heldout)
    if dense is not None and 'grounding' in dense and 'grounding' in heldout:
        out['grounding'] = evaluate_grounding(model, tokenizer,
                                              dense['grounding'].cpu(),
                                              heldout['grounding'])
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
                dense: Optional[torch.nn.ModuleDict] = None, workers: int = 0,
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
            # the relation words' cosines, so that a collapse shows as it happens
            cosines = text_cosines(lambda texts: model.encode_text(
                tokenizer(texts).to(device), normalize=True))
            record = dict(step=step + 1, loss=loss.item(),
                          **{k: v.item() for k, v in terms.items()},
                          cosines={k: cosines[k] for k in RELATION_PAIRS})
            history.append(record)
            log(f'step {step + 1}/{steps}  loss {loss.item():.4f}  ' +
                ''.join(f'{k} {v.item():.4f}  ' for k, v in terms.items()) +
                f'lr {opt.param_groups[0]["lr"]:.2e}  '
                f'scale {model.logit_scale.exp().item():.1f}  cos ' +
                ' '.join(f'{v:.2f}' for v in record['cosines'].values()))
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
