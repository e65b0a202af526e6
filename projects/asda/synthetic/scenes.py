"""The synthetic world: coloured shapes on pale backgrounds.

A scene is ``dict(w, h, objects=[...])`` (pixels). An object has its
``shape``, ``colour``, centre ``cx``, ``cy`` and circumradius ``r``, and, once
:func:`rasterize_objects` has drawn it, its polygon ``parts``, ``mask``
(h, w) and ``area`` (pixels).

This module is the one owner of the world's rules; the generators, the
expression checkers and the captions ask it:

* what there is: :data:`COLOURS`, :data:`SHAPES`, their COCO
  :data:`CATEGORIES` and :data:`CATEGORY_IDS`, and the nouns that name them
  (:data:`SINGULAR_NOUNS`, :data:`PLURAL_NOUNS`);
* how objects relate: "clearly left of / above / bigger than"
  (:func:`relation_holds`), the regions of the image (:func:`in_region`,
  :func:`region_split`) and absolute sizes (:func:`size_word`);
* drawing: placement (:func:`place_objects`, whose object count and size
  range are arguments), rasterizing, painting, and rendering for a model
  (:func:`render_scene`).
"""
import copy
import random
import warnings
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_utils

__all__ = ['COLOURS', 'SHAPES', 'CATEGORIES', 'CATEGORY_IDS', 'GENERIC_NOUNS',
           'GENERIC_PLURALS', 'PLURAL_SHAPES', 'SINGULAR_NOUNS', 'PLURAL_NOUNS',
           'POSITION_MARGIN', 'SIZE_RATIO', 'PAIR_RELATIONS', 'REGIONS',
           'REGION_MARGIN', 'SIZE_WORDS', 'RADIUS_RANGE', 'MAX_OBJECTS', 'relation_holds',
           'in_region', 'region_split', 'size_word', 'place_objects',
           'draw_layout', 'draw_scene', 'rasterize_objects', 'rasterized',
           'paint_scene', 'render_scene', 'scene_record']

# ------------------------------------------------------------ what there is
COLOURS = {  # name: RGB
    'red': (215, 35, 35),
    'green': (35, 165, 55),
    'blue': (40, 70, 215),
    'yellow': (235, 205, 25),
    'purple': (135, 45, 175),
}
SHAPES = ('circle', 'square', 'triangle', 'diamond', 'hexagon')
CATEGORIES = [
    dict(id=i + 1, name=name, supercategory='shape')
    for i, name in enumerate(SHAPES)
]
#: Shape name -> COCO category id.
CATEGORY_IDS = {c['name']: c['id'] for c in CATEGORIES}
#: Nouns of any object, singular and plural; the plural of each shape word.
GENERIC_NOUNS = ('object', 'shape', 'thing')
GENERIC_PLURALS = tuple(n + 's' for n in GENERIC_NOUNS)
PLURAL_SHAPES = {s: s + 's' for s in SHAPES}
SINGULAR_NOUNS = frozenset(GENERIC_NOUNS + SHAPES)
PLURAL_NOUNS = frozenset(GENERIC_PLURALS + tuple(PLURAL_SHAPES.values()))

# -------------------------------------------------------- relations, sizes
#: A position relation needs this gap between the centres (fraction of the
#: image side along its axis); a size relation this ratio of the areas.
POSITION_MARGIN = 0.15
SIZE_RATIO = 1.6
#: Relations of two objects: ``a relation b`` compares ``key`` of a and b,
#: a's larger (sign 1) or smaller (-1).
PAIR_RELATIONS = {'left of': ('cx', -1), 'right of': ('cx', 1),
                  'above': ('cy', -1), 'below': ('cy', 1),
                  'bigger than': ('area', 1), 'smaller than': ('area', -1)}
#: Regions of the image: (axis, sign) of the centre with respect to the
#: image's middle.
REGIONS = {'on the left': ('cx', -1), 'on the right': ('cx', 1),
           'at the top': ('cy', -1), 'at the bottom': ('cy', 1)}
#: A region needs the centre this far (fraction of the side) from the middle.
REGION_MARGIN = 0.12
#: Circumradius range of the objects, as a fraction of the image's shorter
#: side, and the most objects in a scene: RefCOCO's scale (its targets are
#: mostly large). An object is 5-9 patches of 16 across at 224 x 224, so a
#: patch token sees its shape.
RADIUS_RANGE = (0.16, 0.28)
MAX_OBJECTS = 3
#: Absolute size words: circumradius below / above these fractions of the
#: image's shorter side (the same places within :data:`RADIUS_RANGE` as
#: before its change: about the lower 27% are small, the upper 36% large).
SIZE_WORDS = {'small': 0.19, 'large': 0.236}


def relation_holds(relation: str, a: dict, b: dict, w: int, h: int,
                   margin: float = POSITION_MARGIN,
                   ratio: float = SIZE_RATIO) -> bool:
    """Whether ``a relation b`` holds clearly in a w x h scene (a relation
    of :data:`PAIR_RELATIONS`): centres ``margin`` of the side apart (0:
    at all), areas ``ratio`` apart."""
    key, sign = PAIR_RELATIONS[relation]
    if key == 'area':
        return (a['area'] > ratio * b['area'] if sign > 0
                else a['area'] * ratio < b['area'])
    side = w if key == 'cx' else h
    return sign * (a[key] - b[key]) > margin * side


def in_region(region: str, obj: dict, w: int, h: int,
              margin: float = REGION_MARGIN) -> bool:
    """Whether ``obj``'s centre lies in ``region`` (of :data:`REGIONS`) of a
    w x h scene, ``margin`` of the side beyond the middle (0: at all)."""
    axis, sign = REGIONS[region]
    side = w if axis == 'cx' else h
    return sign * (obj[axis] - side / 2) > margin * side


def region_split(region: str, indices: Sequence[int], objs: List[dict],
                 w: int, h: int) -> Tuple[List[int], List[int]]:
    """The objects ``indices`` of a scene clearly inside ``region``, and
    those near its border (neither clearly inside nor outside it at all).

    Returns:
        tuple[list[int], list[int]]: inside, border.
    """
    inside = [i for i in indices if in_region(region, objs[i], w, h)]
    border = [i for i in indices if i not in inside and
              in_region(region, objs[i], w, h, 0.0)]
    return inside, border


def size_word(obj: dict, w: int, h: int) -> Optional[str]:
    """'small', 'large' or None (in between) for an object of a w x h scene."""
    rel = obj['r'] / min(w, h)
    if rel < SIZE_WORDS['small']:
        return 'small'
    if rel > SIZE_WORDS['large']:
        return 'large'
    return None


# ---------------------------------------------------------------- placement
def place_objects(rng: random.Random, w: int, h: int,
                  max_objects: int = MAX_OBJECTS,
                  min_objects: int = 2,
                  radius_range: Tuple[float, float] = RADIUS_RANGE):
    """Place min_objects..max_objects non-overlapping shapes in a w x h
    image, each of circumradius ``radius_range`` (fractions of the shorter
    side).

    Returns:
        list[dict] | None: per object ``shape``, ``colour``, centre ``cx``,
        ``cy`` and circumradius ``r`` (pixels); None if placement fails.
    """
    n = rng.randint(min_objects, max_objects)
    side = min(w, h)
    objs = []
    # A pair of same-shape objects makes positional / size words necessary.
    shapes = [rng.choice(SHAPES) for _ in range(n)]
    if rng.random() < 0.7:
        shapes[1] = shapes[0]
    colours = [rng.choice(list(COLOURS)) for _ in range(n)]
    if rng.random() < 0.3:
        colours[1] = colours[0]
    for shape, colour in zip(shapes, colours):
        for _ in range(100):
            r = rng.uniform(*radius_range) * side
            cx = rng.uniform(r + 2, w - r - 2)
            cy = rng.uniform(r + 2, h - r - 2)
            if all((cx - o['cx'])**2 + (cy - o['cy'])**2 > (r + o['r'] + 4)**2
                   for o in objs):
                break
        else:
            return None
        objs.append(dict(shape=shape, colour=colour, cx=cx, cy=cy, r=r))
    return objs


def draw_layout(rng: random.Random, min_size: int = 160, max_size: int = 256,
                **place_kw) -> Tuple[int, int, List[dict]]:
    """An image size (each side in [min_size, max_size], drawn apart, so
    images are rarely square) and objects placed in it
    (:func:`place_objects` with ``place_kw``), drawn until they fit.

    Returns:
        tuple: ``w``, ``h``, the objects.
    """
    while True:
        w = rng.randint(min_size, max_size)
        h = rng.randint(min_size, max_size)
        objs = place_objects(rng, w, h, **place_kw)
        if objs is not None:
            return w, h, objs


def draw_scene(rng: random.Random, min_size: int = 160, max_size: int = 256,
               **place_kw) -> dict:
    """A scene of :func:`draw_layout`, with a ``paint_seed`` for its pixels
    (:func:`render_scene`)."""
    w, h, objs = draw_layout(rng, min_size, max_size, **place_kw)
    return dict(w=w, h=h, objects=objs, paint_seed=rng.randrange(2**31))


def scene_record(objs: List[dict], w: int, h: int) -> dict:
    """A scene without pixels: ``w``, ``h`` and per object its colour,
    shape, centre and area (what the expression checkers read)."""
    return dict(w=w, h=h, objects=[
        {k: o[k] for k in ('colour', 'shape', 'cx', 'cy', 'area')}
        for o in objs])


# ------------------------------------------------------------------ drawing
def _shape_polygon(shape: str, cx: float, cy: float, r: float,
                   rng: random.Random) -> List[List[float]]:
    """Polygon parts of a shape of circumradius ``r`` centred at (cx, cy)."""
    if shape == 'circle':
        n = 24
        angles = [2 * np.pi * k / n for k in range(n)]
    elif shape == 'square':
        half = r / np.sqrt(2)
        x0, x1, y0, y1 = cx - half, cx + half, cy - half, cy + half
        # Two parts (top and bottom halves): exercises multi-part unions.
        return [[x0, y0, x1, y0, x1, cy, x0, cy],
                [x0, cy, x1, cy, x1, y1, x0, y1]]
    elif shape == 'triangle':
        angles = [-np.pi / 2 + 2 * np.pi * k / 3 for k in range(3)]
    elif shape == 'diamond':
        angles = [-np.pi / 2 + np.pi * k / 2 for k in range(4)]
    elif shape == 'hexagon':
        angles = [np.pi * k / 3 for k in range(6)]
    else:
        raise ValueError(shape)
    pts = []
    for a in angles:
        pts += [cx + r * np.cos(a), cy + r * np.sin(a)]
    return [[round(float(v), 2) for v in pts]]


def _rasterize(parts: List[List[float]], h: int, w: int) -> np.ndarray:
    rles = mask_utils.frPyObjects(parts, h, w)
    with warnings.catch_warnings():
        # pycocotools' Masks.__array__ predates numpy 2's copy keyword.
        warnings.filterwarnings('ignore', message='__array__ implementation',
                                category=DeprecationWarning)
        mask = mask_utils.decode(mask_utils.merge(rles))
    return (mask > 0).astype(np.uint8)


def rasterize_objects(objs: List[dict], w: int, h: int,
                      rng: random.Random) -> None:
    """Add ``parts`` (polygons), ``mask`` (h, w) uint8 and ``area`` to
    each object of :func:`place_objects`, in place."""
    for o in objs:
        o['parts'] = _shape_polygon(o['shape'], o['cx'], o['cy'], o['r'], rng)
        o['mask'] = _rasterize(o['parts'], h, w)
        o['area'] = int(o['mask'].sum())


def rasterized(scene: dict) -> List[dict]:
    """A copy of a :func:`draw_scene` scene's objects, rasterized
    (:func:`rasterize_objects`: ``parts``, ``mask``, ``area``) as
    :func:`render_scene` draws them."""
    objs = copy.deepcopy(scene['objects'])
    rasterize_objects(objs, scene['w'], scene['h'], random.Random(0))
    return objs


def _background(rng: random.Random, nprng: np.random.Generator, w: int,
                h: int) -> np.ndarray:
    base = np.array([rng.randint(190, 245) for _ in range(3)], np.float32)
    if rng.random() < 0.5:  # tinted but pale
        base = 0.85 * base + 0.15 * np.float32(rng.randint(150, 255))
    img = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    if rng.random() < 0.5:  # light noise
        img = img + nprng.normal(0, rng.uniform(2, 8), size=(h, w, 3))
    return img


def paint_scene(objs: List[dict], w: int, h: int, rng: random.Random,
                nprng: np.random.Generator) -> np.ndarray:
    """The (h, w, 3) uint8 BGR image of rasterized objects on a pale,
    maybe noisy background, each object's colour lightly shaded."""
    img = _background(rng, nprng, w, h)
    for o in objs:
        colour = np.array(COLOURS[o['colour']][::-1], np.float32)
        shade = rng.uniform(0.9, 1.1)
        img[o['mask'] > 0] = np.clip(colour * shade, 0, 255)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_scene(scene: dict, size: int = 224, mean: Sequence[float] = (
        122.7709383, 116.7460125, 104.09373615), std: Sequence[float] = (
        68.5005327, 66.6321579, 70.32316305)):
    """Draw a scene of :func:`draw_scene` and prepare it as the demo's
    pipeline does: keep-ratio resize into size x size, RGB, normalise, pad
    bottom / right with 0.

    Returns:
        tuple: image (3, size, size) float tensor; object masks
        (N, size, size) bool tensor, aligned with the image (padding False).
    """
    w, h = scene['w'], scene['h']
    objs = rasterized(scene)
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
