"""Captioned synthetic scenes for contrastive pretraining of a tiny CLIP.

The scenes are those of :mod:`asda.synthetic.scenes` (the same shapes,
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
parses the caption; an object the scene lacks makes it false). Sizes,
regions and relations are the world's (:mod:`asda.synthetic.scenes`).

Shape letters: B batch, H x W the model's input side.
"""
import copy
import random
import re
from typing import List, Tuple

import torch

from .refer import candidate_expressions
from .scenes import (
    COLOURS,
    PAIR_RELATIONS,
    POSITION_MARGIN,
    RADIUS_RANGE,
    REGION_MARGIN,
    REGIONS,
    SHAPES,
    SIZE_WORDS,
    draw_scene,
    in_region,
    rasterized,
    relation_holds,
    render_scene,
    size_word,
)

__all__ = ['RELATIONS', 'TWIN_KINDS', 'parse_caption', 'describes', 'scene_captions',
           'draw_twin_group', 'referring_expressions', 'object_phrase', 'PHRASES',
           'MIN_BATCH_SIZE', 'CaptionStream']

#: The relations captions name: the position ones of
#: :data:`asda.synthetic.scenes.PAIR_RELATIONS`.
RELATIONS = tuple(r for r, (key, _) in PAIR_RELATIONS.items() if key != 'area')
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


def describes(text: str, scene: dict, strict: bool = True) -> bool:
    """Whether caption ``text`` is true of ``scene`` (``w``, ``h`` and
    ``objects``: dicts with shape, colour, cx, cy, r).

    Every object the caption names must be in the scene (distinct objects
    for two noun phrases), with its size word if it has one, and its region
    or relation must hold: clearly (the world's margins) if ``strict``,
    else at all (margin 0: what a hard negative must not even come close to).
    """
    spec = parse_caption(text)
    w, h, objs = scene['w'], scene['h'], scene['objects']
    link = spec['link']
    firsts = [o for o in objs if _matches(spec['nps'][0], o, w, h)]
    if len(spec['nps']) == 1:
        region_margin = REGION_MARGIN if strict else 0.0
        return any(link is None or in_region(link, a, w, h, region_margin)
                   for a in firsts)
    seconds = [o for o in objs if _matches(spec['nps'][1], o, w, h)]
    pair_margin = POSITION_MARGIN if strict else 0.0
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
            if in_region(region, o, w, h):
                out.append((f'{_np_text(o, w, h, rng.random() < 0.5)} '
                            f'{region}', (i,)))
    for i, a in enumerate(objs):
        for j, b in enumerate(objs):
            if i == j:
                continue
            for rel in RELATIONS:
                if relation_holds(rel, a, b, w, h):
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


# -------------------------------------------------------------------- twins
#: The hard negatives of a twin group, in its order after the base pair:
#: each twin changes one thing of the scene, and its caption only the
#: word(s) that name it.
TWIN_KINDS = ('shape', 'position', 'size')
_FLIP_SIZE = {'small': 'large', 'large': 'small'}


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


def _position_twin(scene: dict, text: str, idx: tuple, rng: random.Random):
    """The scene mirrored along the axis of the caption's region / relation
    and the caption with only that word flipped; None if not a clean
    negative (or the caption has no position)."""
    link = parse_caption(text)['link']
    if link not in _FLIP:
        return None
    axis = (REGIONS.get(link) or PAIR_RELATIONS[link])[0]
    side = scene['w'] if axis == 'cx' else scene['h']
    twin = copy.deepcopy(scene)
    for o in twin['objects']:
        o[axis] = side - o[axis]  # shapes stay upright: only centres move
    new_text = text.replace(f' {link}', f' {_FLIP[link]}', 1)
    if _clean_pair(scene, text, twin, new_text):
        return twin, new_text
    return None


def _size_twin(scene: dict, text: str, idx: tuple, rng: random.Random):
    """The scene with the caption's one sized object drawn at the other
    size (small <-> large, same centre, still inside the image and apart
    from the others), and the caption with only that size word flipped;
    None if the caption has no single size word or no clean pair exists."""
    nps = parse_caption(text)['nps']
    sized = [k for k, np_ in enumerate(nps) if np_[0] is not None]
    if len(sized) != 1:
        return None
    old = nps[sized[0]][0]
    i = idx[sized[0]]
    w, h = scene['w'], scene['h']
    side = min(w, h)
    low, high = ((SIZE_WORDS['large'], RADIUS_RANGE[1]) if old == 'small'
                 else (RADIUS_RANGE[0], SIZE_WORDS['small']))
    for _ in range(10):
        twin = copy.deepcopy(scene)
        o = twin['objects'][i]
        o['r'] = rng.uniform(low, high) * side
        inside = (o['r'] + 2 <= o['cx'] <= w - o['r'] - 2 and
                  o['r'] + 2 <= o['cy'] <= h - o['r'] - 2)
        apart = all((o['cx'] - p['cx'])**2 + (o['cy'] - p['cy'])**2 >
                    (o['r'] + p['r'] + 4)**2
                    for k, p in enumerate(twin['objects']) if k != i)
        new_text = _swap_word(text, old, _FLIP_SIZE[old])
        if inside and apart and _clean_pair(scene, text, twin, new_text):
            return twin, new_text
    return None


_TWINS = dict(shape=_shape_twin, position=_position_twin, size=_size_twin)


def _clean_pair(scene, text, twin, twin_text) -> bool:
    """Each caption is clearly true of its scene and not even loosely true
    of the other one."""
    return (describes(twin_text, twin) and describes(text, scene) and
            not describes(twin_text, scene, strict=False) and
            not describes(text, twin, strict=False))


def draw_twin_group(rng: random.Random, **scene_kw) -> List[Tuple[dict, str]]:
    """1 + len(:data:`TWIN_KINDS`) (scene, caption) pairs: a base scene with
    a caption that names a position and a size, then its twin of each kind
    (see the module docstring)."""
    while True:
        scene = draw_scene(rng, **scene_kw)
        fit = [(t, idx) for t, idx in scene_captions(scene, rng)
               if parse_caption(t)['link'] in _FLIP and
               sum(np_[0] is not None for np_ in parse_caption(t)['nps']) == 1]
        if not fit:
            continue
        text, idx = rng.choice(fit)
        twins = [_TWINS[kind](scene, text, idx, rng) for kind in TWIN_KINDS]
        if all(twins):
            return [(scene, text)] + twins


# ----------------------------------------------------- referring expressions
def _one_word_apart(a: str, b: str) -> bool:
    wa, wb = a.split(), b.split()
    return len(wa) == len(wb) and sum(x != y for x, y in zip(wa, wb)) == 1


def referring_expressions(scene: dict, rng: random.Random, num: int,
                          relational_prob: float = 0.75
                          ) -> List[Tuple[str, int, str]]:
    """Up to ``num`` referring expressions of a scene for stage one's
    grounding term, each of another object: the referring dataset's own
    candidates (:func:`asda.synthetic.refer.candidate_expressions`, the
    world's relations), a relational one (position / size words) with
    probability ``relational_prob`` when the object has one.

    After a relational expression comes, when the scene has one, its
    *twin*: another object's expression of the same kind one word apart
    ("the circle on the left" / "...on the right", "the bigger object" /
    "the smaller object"), so that the word alone tells the two targets
    apart.

    Returns:
        list[tuple[str, int, str]]: expression, index of its object, kind
        (:data:`asda.synthetic.refer.EXPRESSION_KINDS`).
    """
    objs, w, h = rasterized(scene), scene['w'], scene['h']
    cands = {i: candidate_expressions(o, objs, w, h) for i, o in enumerate(objs)}
    left = [i for i, c in cands.items() if c]
    rng.shuffle(left)
    out = []
    while left and len(out) < num:
        i = left.pop(0)
        relational = [e for e in cands[i] if e['pool'] != 'attr']
        pool = (relational if relational and rng.random() < relational_prob
                else cands[i])
        e = rng.choice(pool)
        out.append((e['text'], i, e['kind']))
        twins = [(t['text'], j, t['kind']) for j in left for t in cands[j]
                 if t['pool'] != 'attr' and t['kind'] == e['kind'] and
                 _one_word_apart(t['text'], e['text'])]
        if e['pool'] != 'attr' and twins and len(out) < num:
            twin = rng.choice(twins)
            out.append(twin)
            left.remove(twin[1])
    return out


# ------------------------------------------------------------------- stream
def object_phrase(obj: dict) -> str:
    """The phrase of one object for the dense term of stage one: its
    colour and shape ("red circle")."""
    return f'{obj["colour"]} {obj["shape"]}'


#: The fewest pairs a batch may hold (ClipLoss needs negatives).
MIN_BATCH_SIZE = 3

#: Every :func:`object_phrase` of the world (colour-major).
PHRASES = tuple(f'{c} {s}' for c in COLOURS for s in SHAPES)


class CaptionStream(torch.utils.data.Dataset):
    """Endless batches of (image, caption) pairs from a seed, with each
    image's object masks and phrases.

    Batch ``k`` is drawn from its own random stream (of ``seed`` and ``k``),
    so that batches can be rendered in any order, by parallel workers
    (a ``DataLoader`` over the stream), and still be the same.

    Args:
        seed (int): The stream's seed (use one the referring data does not).
        batch_size (int): Pairs per batch (B).
        twin_share (float): Share of each batch made of twin groups (4
            consecutive pairs each, see :func:`draw_twin_group`); the rest are
            single scenes with one caption drawn from :func:`scene_captions`.
        img_size (int): Model input side.
        expressions_per_image (int): Referring expressions drawn per image
            for the grounding term (:func:`referring_expressions`).
    """

    def __init__(self, seed: int, batch_size: int, twin_share: float = 0.5,
                 img_size: int = 224, expressions_per_image: int = 2):
        if batch_size < MIN_BATCH_SIZE:
            raise ValueError(f'batch_size must be >= {MIN_BATCH_SIZE}, got {batch_size}')
        if not 0 <= twin_share <= 1:
            raise ValueError(f'twin_share must be in [0, 1], got {twin_share}')
        self.seed = seed
        self.batch_size = batch_size
        self.groups = int(batch_size * twin_share) // (1 + len(TWIN_KINDS))
        self.img_size = img_size
        self.expressions_per_image = expressions_per_image
        self.step = 0

    def pairs(self, k: int) -> List[Tuple[dict, str]]:
        """Batch ``k``'s B (scene, caption) pairs, twin groups first."""
        rng = random.Random(f'caption-stream/{self.seed}/{k}')
        out = []
        for _ in range(self.groups):
            out += draw_twin_group(rng)
        while len(out) < self.batch_size:
            scene = draw_scene(rng)
            out.append((scene, rng.choice(scene_captions(scene, rng))[0]))
        return out

    def __getitem__(self, k: int) -> dict:
        """Batch ``k``: ``images`` (B, 3, H, W), B ``captions``, and per
        image its objects' ``masks`` (n, H, W) bool, ``phrases``
        (:func:`object_phrase`) and ``expressions`` (:func:`
        referring_expressions`: text, object index, kind)."""
        pairs = self.pairs(k)
        rng = random.Random(f'caption-stream/{self.seed}/{k}/expressions')
        rendered = [render_scene(s, self.img_size) for s, _ in pairs]
        return dict(images=torch.stack([img for img, _ in rendered]),
                    captions=[t for _, t in pairs],
                    masks=[m for _, m in rendered],
                    phrases=[[object_phrase(o) for o in s['objects']]
                             for s, _ in pairs],
                    expressions=[referring_expressions(
                        s, rng, self.expressions_per_image) for s, _ in pairs])

    def next_batch(self) -> Tuple[torch.Tensor, List[str]]:
        """The next batch's images (B, 3, H, W) and B captions."""
        batch = self[self.step]
        self.step += 1
        return batch['images'], batch['captions']
