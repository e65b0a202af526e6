"""Captioned synthetic scenes for contrastive pretraining of a tiny CLIP.

The scenes are those of :mod:`asda.datasets.synthetic` (the same shapes,
colours, sizes and placement, the same drawing code), drawn fresh from a
caption stream's own seed: never the images of the referring splits. Each
scene gets several captions that describe colour, shape, position and size::

    a small red circle                          one object
    a blue square on the left                   one object and its region
    a small red circle left of a blue square    two objects and a relation
    a red circle and a large blue square        two objects

Hard negatives come in groups of three scenes: a base scene with one of its
positional captions, a *shape twin* (one object of the caption changes
shape, the caption changes only in that shape word) and a *position twin*
(the scene mirrored along the caption's axis, the caption changes only in
its position word). In a batch each twin's caption is a negative for the
others, so that colour alone cannot solve the contrastive task.

:func:`describes` is the checker: whether a caption is true of a scene (it
parses the caption; an object the scene lacks makes it false).

Shape letters: B batch, H x W the model's input side.
"""
import copy
import random
import re
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from .synthetic import (
    COLOURS,
    POSITION_MARGIN,
    SHAPES,
    paint_scene,
    place_objects,
    rasterize_objects,
)

__all__ = ['SIZE_WORDS', 'RELATIONS', 'REGIONS', 'REGION_MARGIN', 'size_word',
           'relation_holds', 'parse_caption',
           'describes', 'scene_captions', 'draw_scene', 'draw_twin_group',
           'render_scene', 'CaptionStream']

#: Absolute size words: circumradius below / above these fractions of the
#: image's shorter side (objects span 0.09-0.2).
SIZE_WORDS = {'small': 0.12, 'large': 0.16}
#: Pair relations: (axis, sign): ``a left of b`` means a.cx < b.cx - margin.
RELATIONS = {'left of': ('cx', -1), 'right of': ('cx', 1),
             'above': ('cy', -1), 'below': ('cy', 1)}
#: Regions of one object: (axis, sign) with respect to the image centre.
REGIONS = {'on the left': ('cx', -1), 'on the right': ('cx', 1),
           'at the top': ('cy', -1), 'at the bottom': ('cy', 1)}
#: A region needs the centre this far (fraction of the side) from the middle.
REGION_MARGIN = 0.12
_FLIP = {'left of': 'right of', 'right of': 'left of', 'above': 'below',
         'below': 'above', 'on the left': 'on the right',
         'on the right': 'on the left', 'at the top': 'at the bottom',
         'at the bottom': 'at the top'}

_NP = (r'a (?:(' + '|'.join(SIZE_WORDS) + r') )?(' + '|'.join(COLOURS) +
       r') (' + '|'.join(SHAPES) + r')')
_CAPTION = re.compile(
    '^' + _NP + '(?: (' + '|'.join(REGIONS) + ')| (' + '|'.join(RELATIONS) +
    ') ' + _NP + '| (and) ' + _NP + ')?$')


# ------------------------------------------------------------------ checker
def size_word(obj: dict, w: int, h: int) -> Optional[str]:
    """'small', 'large' or None (in between) for an object of a w x h scene."""
    rel = obj['r'] / min(w, h)
    if rel < SIZE_WORDS['small']:
        return 'small'
    if rel > SIZE_WORDS['large']:
        return 'large'
    return None


def parse_caption(text: str) -> dict:
    """A caption -> ``dict(nps=[(size|None, colour, shape), ...], link=...)``
    with link None, a region, a relation or 'and'.

    Raises:
        ValueError: the caption is not in the captions' grammar.
    """
    m = _CAPTION.match(text)
    if m is None:
        raise ValueError(f'caption {text!r} is not of the form "a [size] '
                         f'colour shape [region | relation a ... | and a ...]"')
    g = m.groups()
    nps = [(g[0], g[1], g[2])]
    if g[3]:
        return dict(nps=nps, link=g[3])
    if g[4]:
        return dict(nps=nps + [(g[5], g[6], g[7])], link=g[4])
    if g[8]:
        return dict(nps=nps + [(g[9], g[10], g[11])], link='and')
    return dict(nps=nps, link=None)


def _matches(np_: tuple, obj: dict, w: int, h: int) -> bool:
    size, colour, shape = np_
    return (obj['colour'] == colour and obj['shape'] == shape and
            (size is None or size_word(obj, w, h) == size))


def relation_holds(link: str, a: dict, b: Optional[dict], w: int, h: int,
                   margin: float) -> bool:
    """Whether region / relation ``link`` holds for a (and b), with
    ``margin`` (fraction of the side; 0 = loosely)."""
    if link in REGIONS:
        axis, sign = REGIONS[link]
        side = w if axis == 'cx' else h
        return sign * (a[axis] - side / 2) > margin * side
    axis, sign = RELATIONS[link]
    side = w if axis == 'cx' else h
    return sign * (a[axis] - b[axis]) > margin * side


def describes(text: str, scene: dict, strict: bool = True) -> bool:
    """Whether caption ``text`` is true of ``scene`` (``w``, ``h`` and
    ``objects``: dicts with shape, colour, cx, cy, r).

    Every object the caption names must be in the scene (distinct objects
    for two noun phrases), with its size word if it has one, and its region
    or relation must hold: clearly (the generator's margins) if ``strict``,
    else at all (margin 0: what a hard negative must not even come close to).
    """
    spec = parse_caption(text)
    w, h, objs = scene['w'], scene['h'], scene['objects']
    link = spec['link']
    region_margin = REGION_MARGIN if strict else 0.0
    pair_margin = POSITION_MARGIN if strict else 0.0
    firsts = [o for o in objs if _matches(spec['nps'][0], o, w, h)]
    if len(spec['nps']) == 1:
        return any(link is None or relation_holds(link, a, None, w, h, region_margin)
                   for a in firsts)
    seconds = [o for o in objs if _matches(spec['nps'][1], o, w, h)]
    return any(a is not b and (link == 'and' or
                               relation_holds(link, a, b, w, h, pair_margin))
               for a in firsts for b in seconds)


# ----------------------------------------------------------------- captions
def _np_text(obj: dict, w: int, h: int, with_size: bool) -> str:
    size = size_word(obj, w, h) if with_size else None
    return ' '.join(['a'] + ([size] if size else []) +
                    [obj['colour'], obj['shape']])


def scene_captions(scene: dict, rng: random.Random) -> List[Tuple[str, tuple]]:
    """Every caption the generator may give ``scene``, each with the indices
    of the objects it names: one per object (its region added when it has
    one), one per ordered pair and relation that holds clearly, one 'and'
    per pair. Size words are added at random (p = 0.5).

    Returns:
        list[tuple[str, tuple[int, ...]]]: distinct true captions.
    """
    w, h, objs = scene['w'], scene['h'], scene['objects']
    out = []
    for i, o in enumerate(objs):
        out.append((_np_text(o, w, h, rng.random() < 0.5), (i,)))
        for region in REGIONS:
            if relation_holds(region, o, None, w, h, REGION_MARGIN):
                out.append((f'{_np_text(o, w, h, rng.random() < 0.5)} '
                            f'{region}', (i,)))
    for i, a in enumerate(objs):
        for j, b in enumerate(objs):
            if i == j:
                continue
            for rel in RELATIONS:
                if relation_holds(rel, a, b, w, h, POSITION_MARGIN):
                    out.append((f'{_np_text(a, w, h, rng.random() < 0.5)} '
                                f'{rel} {_np_text(b, w, h, rng.random() < 0.5)}',
                                (i, j)))
            if i < j:
                out.append((f'{_np_text(a, w, h, rng.random() < 0.5)} and '
                            f'{_np_text(b, w, h, rng.random() < 0.5)}', (i, j)))
    seen, uniq = set(), []
    for text, idx in out:
        if text not in seen and describes(text, scene):
            seen.add(text)
            uniq.append((text, idx))
    return uniq


# ------------------------------------------------------------------- scenes
def draw_scene(rng: random.Random, min_size: int = 160, max_size: int = 256,
               max_objects: int = 4) -> dict:
    """A scene as the referring generator draws one: ``w``, ``h``,
    ``objects`` (2..max_objects) and a ``paint_seed`` for its pixels."""
    while True:
        w = rng.randint(min_size, max_size)
        h = rng.randint(min_size, max_size)
        objs = place_objects(rng, w, h, max_objects)
        if objs is not None:
            return dict(w=w, h=h, objects=objs,
                        paint_seed=rng.randrange(2**31))


def _swap_word(text: str, old: str, new: str) -> str:
    words = text.split(' ')
    return ' '.join(new if w == old else w for w in words)


def _shape_twin(scene: dict, text: str, idx: tuple, rng: random.Random):
    """The scene with one named object's shape changed, and the caption
    with only that shape word changed; None if no such pair is a clean
    negative."""
    i = rng.choice(idx)
    old = scene['objects'][i]['shape']
    nps = parse_caption(text)['nps']
    if sum(np_[2] == old for np_ in nps) != 1:
        return None  # the shape word would be ambiguous to swap
    for new in rng.sample([s for s in SHAPES if s != old], len(SHAPES) - 1):
        twin = copy.deepcopy(scene)
        twin['objects'][i]['shape'] = new
        new_text = _swap_word(text, old, new)
        if _clean_pair(scene, text, twin, new_text):
            return twin, new_text
    return None


def _position_twin(scene: dict, text: str):
    """The scene mirrored along the axis of the caption's region / relation
    and the caption with only that word flipped; None if not a clean
    negative (or the caption has no position)."""
    link = parse_caption(text)['link']
    if link not in _FLIP:
        return None
    axis = (REGIONS.get(link) or RELATIONS[link])[0]
    side = scene['w'] if axis == 'cx' else scene['h']
    twin = copy.deepcopy(scene)
    for o in twin['objects']:
        o[axis] = side - o[axis]  # shapes stay upright: only centres move
    new_text = text.replace(f' {link}', f' {_FLIP[link]}', 1)
    if _clean_pair(scene, text, twin, new_text):
        return twin, new_text
    return None


def _clean_pair(scene, text, twin, twin_text) -> bool:
    """Each caption is clearly true of its scene and not even loosely true
    of the other one."""
    return (describes(twin_text, twin) and describes(text, scene) and
            not describes(twin_text, scene, strict=False) and
            not describes(text, twin, strict=False))


def draw_twin_group(rng: random.Random, **scene_kw) -> List[Tuple[dict, str]]:
    """Three (scene, caption) pairs: a base scene with a positional caption,
    its shape twin and its position twin (see the module docstring)."""
    while True:
        scene = draw_scene(rng, **scene_kw)
        positional = [(t, idx) for t, idx in scene_captions(scene, rng)
                      if parse_caption(t)['link'] in _FLIP]
        if not positional:
            continue
        text, idx = rng.choice(positional)
        shape = _shape_twin(scene, text, idx, rng)
        position = _position_twin(scene, text)
        if shape and position:
            return [(scene, text), shape, position]


# ---------------------------------------------------------------- rendering
def render_scene(scene: dict, size: int = 224, mean: Sequence[float] = (
        122.7709383, 116.7460125, 104.09373615), std: Sequence[float] = (
        68.5005327, 66.6321579, 70.32316305)):
    """Draw ``scene`` and prepare it as the demo's pipeline does: keep-ratio
    resize into size x size, RGB, normalise, pad bottom / right with 0.

    Returns:
        tuple: image (3, size, size) float tensor; object masks
        (N, size, size) bool tensor, aligned with the image (padding False).
    """
    w, h = scene['w'], scene['h']
    objs = copy.deepcopy(scene['objects'])
    rasterize_objects(objs, w, h, random.Random(0))
    seed = scene['paint_seed']
    bgr = paint_scene(objs, w, h, random.Random(seed),
                      np.random.default_rng(seed))
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    rgb = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)[..., ::-1]
    img = np.zeros((size, size, 3), np.float32)
    img[:nh, :nw] = (rgb - np.float32(mean)) / np.float32(std)
    masks = np.zeros((len(objs), size, size), bool)
    for k, o in enumerate(objs):
        m = cv2.resize(o['mask'], (nw, nh), interpolation=cv2.INTER_NEAREST)
        masks[k, :nh, :nw] = m > 0
    # (H, W, 3) -> (3, H, W)
    return (torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
            torch.from_numpy(masks))


class CaptionStream:
    """Endless batches of (image, caption) pairs from a seed.

    Args:
        seed (int): The stream's seed (use one the referring data does not).
        batch_size (int): Pairs per batch (B).
        twin_share (float): Share of each batch made of twin groups (3
            consecutive pairs each, see :func:`draw_twin_group`); the rest are
            single scenes with one caption drawn from :func:`scene_captions`.
        img_size (int): Model input side.
    """

    def __init__(self, seed: int, batch_size: int, twin_share: float = 0.5,
                 img_size: int = 224):
        if batch_size < 3:
            raise ValueError(f'batch_size must be >= 3, got {batch_size}')
        if not 0 <= twin_share <= 1:
            raise ValueError(f'twin_share must be in [0, 1], got {twin_share}')
        self.rng = random.Random(seed)
        self.batch_size = batch_size
        self.groups = int(batch_size * twin_share) // 3
        self.img_size = img_size

    def pairs(self) -> List[Tuple[dict, str]]:
        """The next batch's B (scene, caption) pairs, twin groups first."""
        out = []
        for _ in range(self.groups):
            out += draw_twin_group(self.rng)
        while len(out) < self.batch_size:
            scene = draw_scene(self.rng)
            out.append((scene, self.rng.choice(scene_captions(scene, self.rng))[0]))
        return out

    def next_batch(self) -> Tuple[torch.Tensor, List[str]]:
        """Images (B, 3, H, W) and their B captions."""
        pairs = self.pairs()
        images = torch.stack([render_scene(s, self.img_size)[0]
                              for s, _ in pairs])  # (B, 3, H, W)
        return images, [t for _, t in pairs]
