"""Write a small synthetic referring-segmentation dataset in the refer format.

::

    out_dir/images/synth_000001.jpg ...
    out_dir/refcoco/instances.json     COCO: images, annotations, categories
    out_dir/refcoco/refs(unc).p        splits train / val / testA / testB
    out_dir/refcoco/refs(umd).p        train / val / test   (same refs)
    out_dir/refcoco/refs(google).p     train / val          (same refs)
    out_dir/refcoco/counts.json        refs / expressions / images per split

Each image shows 2-4 coloured shapes (circle, square, triangle, diamond,
hexagon) on a plain or lightly noisy background; image sizes vary and are not
square. Every image has at least two refs to different objects, and every
expression is checked to single out its target among the distractors, using
colour, shape, relative position (left / right / top / bottom) and size
(bigger / smaller). Objects are annotated with polygons (squares as two parts)
or with compressed RLE (pycocotools, counts as str).

Split mapping (by image, so a split never shares images with another):
unc train / val / testA / testB; umd train / val / test (= testA + testB);
google train / val (= val + testA + testB).

It is the embedded dataset of the demo, the tests and the benchmarks. From
Python::

    from asda.datasets.synthetic import make_synthetic_refcoco
    make_synthetic_refcoco('data/synthetic', seed=0)

or from the shell (the same function)::

    python tools/dataset_converters/make_synthetic_refcoco.py \
        --out-dir data/synthetic --seed 0
"""
import json
import os
import os.path as osp
import pickle
import random
import warnings
from typing import Dict, List, Optional

import cv2
import numpy as np
from pycocotools import mask as mask_utils

__all__ = ['make_synthetic_refcoco', 'add_generator_arguments', 'generator_kwargs',
           'COLOURS', 'SHAPES', 'CATEGORIES',
           'UNC_SPLITS', 'SPLIT_FILES', 'DEFAULT_SPLIT_SIZES',
           'GENERATOR_VERSION', 'EXPRESSION_KINDS', 'VOCABULARY',
           'place_objects', 'rasterize_objects', 'paint_scene',
           'candidate_expressions', 'pick_sentences', 'resolve_split_sizes',
           'draw_describable_scene', 'write_scene_image', 'annotate_objects',
           'sentence_record', 'write_counts_manifest']

#: Version of the generator's output. 2: each sentence dict of the refs
#: carries its expression ``kind`` (images, instances.json and the other
#: ref fields are those of version 1, byte for byte, for the same seed).
GENERATOR_VERSION = 2

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
UNC_SPLITS = ('train', 'val', 'testA', 'testB')
UMD_OF_UNC = dict(train='train', val='val', testA='test', testB='test')
GOOGLE_OF_UNC = dict(train='train', val='val', testA='val', testB='val')
SPLIT_FILES = {'unc': UNC_SPLITS, 'umd': ('train', 'val', 'test'),
               'google': ('train', 'val')}
#: Default numbers of images per unc split.
DEFAULT_SPLIT_SIZES = dict(train=400, val=50, testA=50, testB=50)

# Relative positions need this gap between object centres (fraction of the
# image side); size words need this area ratio.
POSITION_MARGIN = 0.15
SIZE_RATIO = 1.6


# ---------------------------------------------------------------- geometry
# Relation words per selector: the phrases for a scene of two candidates,
# those for three or more, and the expression kind recorded in the refs.
RELATION_PHRASES = {
    'left': (('the {noun} on the left', 'left {noun}'),
             ('the leftmost {noun}', '{noun} on the far left'), 'left/right'),
    'right': (('the {noun} on the right', 'right {noun}'),
              ('the rightmost {noun}', '{noun} on the far right'), 'left/right'),
    'top': (('the top {noun}', 'upper {noun}'),
            ('the topmost {noun}', '{noun} at the top'), 'top/bottom'),
    'bottom': (('the bottom {noun}', 'lower {noun}'),
               ('the lowest {noun}', '{noun} at the bottom'), 'top/bottom'),
    'big': (('the bigger {noun}', 'larger {noun}'),
            ('the biggest {noun}', 'largest {noun}'), 'size'),
    'small': (('the smaller {noun}', 'small {noun}'),
              ('the smallest {noun}', 'tiniest {noun}'), 'size'),
}
#: Kinds of expression recorded per sentence of the refs (``'kind'``): the
#: minimal set of attributes among those an expression names that singles out
#: its target. An attribute-only expression is 'colour' when its colour alone
#: does (colour is tried before shape), else 'shape' when its shape alone
#: does, else 'colour+shape'; a relational one is the kind of its relation.
EXPRESSION_KINDS = ('colour', 'shape', 'colour+shape', 'left/right',
                    'top/bottom', 'size')
_FILLER = {'the', 'on', 'at', 'far', '{noun}'}


def _relation_words(kind: str) -> tuple:
    words = {w for pair, many, k in RELATION_PHRASES.values() if k == kind
             for t in pair + many for w in t.split()}
    return tuple(sorted(words - _FILLER))


#: The task's words by class (colour, shape, position, size): the one list
#: the demo's breakdown, the caption generator and the tests read.
VOCABULARY = dict(
    colour=tuple(COLOURS),
    shape=SHAPES,
    position=_relation_words('left/right') + _relation_words('top/bottom'),
    left_right=_relation_words('left/right'),
    top_bottom=_relation_words('top/bottom'),
    size=_relation_words('size'),
)


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


# ------------------------------------------------------------- expressions
def _unique(objs, pred):
    return [o for o in objs if pred(o)]


def candidate_expressions(target: dict, objs: List[dict], w: int,
                           h: int) -> List[dict]:
    """Expressions that single out ``target`` among ``objs``.

    Returns a list of dicts ``(text, pool, kind)``: pool in {'attr', 'lr',
    'other'} (attr = colour / shape words alone, lr = uses left/right, other
    = top / bottom / size words) steers :func:`pick_sentences`; kind is the
    one of :data:`EXPRESSION_KINDS` recorded in the refs.
    """
    c, s = target['colour'], target['shape']
    by_colour = _unique(objs, lambda o: o['colour'] == c)
    by_shape = _unique(objs, lambda o: o['shape'] == s)
    # The colour + shape noun's minimal set: colour alone, shape alone, both.
    both_kind = ('colour' if len(by_colour) == 1 else
                 'shape' if len(by_shape) == 1 else 'colour+shape')
    groups = [
        # (members, noun phrase(s), can be alone, kind when alone); an 'all'
        # group needs a selector.
        (objs, ['object', 'shape', 'thing'], False, None),
        (by_colour, [f'{c} object', f'{c} shape', f'{c} thing'], True,
         'colour'),
        (by_shape, [s], True, 'shape'),
        (_unique(objs, lambda o: o['colour'] == c and o['shape'] == s),
         [f'{c} {s}'], True, both_kind),
    ]
    out = []
    for members, nouns, can_be_alone, alone_kind in groups:
        others = [o for o in members if o is not target]
        n = len(members)
        if n == 1 and can_be_alone:
            for noun in nouns:
                out.append(dict(text=f'the {noun}', pool='attr',
                                kind=alone_kind))
                out.append(dict(text=noun, pool='attr', kind=alone_kind))
            continue
        if n < 2:
            continue
        mx, my = POSITION_MARGIN * w, POSITION_MARGIN * h
        sel = {
            'left': all(target['cx'] < o['cx'] - mx for o in others),
            'right': all(target['cx'] > o['cx'] + mx for o in others),
            'top': all(target['cy'] < o['cy'] - my for o in others),
            'bottom': all(target['cy'] > o['cy'] + my for o in others),
            'big': all(target['area'] > SIZE_RATIO * o['area']
                       for o in others),
            'small': all(target['area'] * SIZE_RATIO < o['area']
                         for o in others),
        }
        two = n == 2
        for noun in nouns:
            for relation, (pair, many, kind) in RELATION_PHRASES.items():
                if sel[relation]:
                    texts = pair if two else many
                    pool = 'lr' if kind == 'left/right' else 'other'
                    out += [dict(text=t.format(noun=noun), pool=pool,
                                 kind=kind) for t in texts]
    # De-duplicate, keep order.
    seen, uniq = set(), []
    for e in out:
        if e['text'] not in seen:
            seen.add(e['text'])
            uniq.append(e)
    return uniq


def pick_sentences(cands: List[dict], rng: random.Random, max_sents: int,
                    lr_prob: float, attr_prob: float) -> List[dict]:
    """1..max_sents distinct expressions (candidates of ``cands``) for
    one ref.

    With probability ``lr_prob`` the first one uses left/right (when the
    target allows it). Each further one is an attribute-only expression
    (colour / shape words) with probability ``attr_prob`` when one is left,
    as people describe an object by its simplest distinguishing words, and
    otherwise a relational one (position / size words).
    """
    k = rng.randint(1, min(max_sents, len(cands)))
    lr = [e for e in cands if e['pool'] == 'lr']
    attr = [e for e in cands if e['pool'] == 'attr']
    rel = [e for e in cands if e['pool'] != 'attr']
    chosen = []
    if lr and rng.random() < lr_prob:
        chosen.append(rng.choice(lr))
        rel.remove(chosen[0])
    while len(chosen) < k:
        pool = attr if attr and (not rel or rng.random() < attr_prob) else rel
        chosen.append(pool.pop(rng.randrange(len(pool))))
    return chosen


# ------------------------------------------------------------------ scenes
def place_objects(rng: random.Random, w: int, h: int, max_objects: int):
    """Place 2..max_objects non-overlapping shapes in a w x h image.

    Returns:
        list[dict] | None: per object ``shape``, ``colour``, centre ``cx``,
        ``cy`` and circumradius ``r`` (pixels); None if placement fails.
    """
    n = rng.randint(2, max_objects)
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
            r = rng.uniform(0.09, 0.2) * side
            cx = rng.uniform(r + 2, w - r - 2)
            cy = rng.uniform(r + 2, h - r - 2)
            if all((cx - o['cx'])**2 + (cy - o['cy'])**2 > (r + o['r'] + 4)**2
                   for o in objs):
                break
        else:
            return None
        objs.append(dict(shape=shape, colour=colour, cx=cx, cy=cy, r=r))
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


def rasterize_objects(objs: List[dict], w: int, h: int,
                      rng: random.Random) -> None:
    """Add ``parts`` (polygons), ``mask`` (h, w) uint8 and ``area`` to
    each object of :func:`place_objects`, in place."""
    for o in objs:
        o['parts'] = _shape_polygon(o['shape'], o['cx'], o['cy'], o['r'], rng)
        o['mask'] = _rasterize(o['parts'], h, w)
        o['area'] = int(o['mask'].sum())


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


def _encode_rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask))
    return dict(size=[int(v) for v in rle['size']],
                counts=rle['counts'].decode('ascii'))



# ------------------------------------------------------------ shared steps
def resolve_split_sizes(num_images: Optional[int],
                        split_sizes: Optional[Dict[str, int]]) -> Dict[str, int]:
    """Images per unc split: ``num_images`` shared 8:1:1:1 (at least 1 each)
    when given, else ``split_sizes``, else :data:`DEFAULT_SPLIT_SIZES`.

    Raises:
        ValueError: fewer than 4 images, or a split not in :data:`UNC_SPLITS`.
    """
    if num_images is not None:
        if num_images < len(UNC_SPLITS):
            raise ValueError(f'num_images must be >= {len(UNC_SPLITS)}')
        small = max(1, round(num_images / 11))
        split_sizes = dict(train=num_images - 3 * small, val=small,
                           testA=small, testB=small)
    split_sizes = dict(split_sizes or DEFAULT_SPLIT_SIZES)
    unknown = set(split_sizes) - set(UNC_SPLITS)
    if unknown:
        raise ValueError(f'unknown splits {sorted(unknown)}; use '
                         f'{UNC_SPLITS}')
    return split_sizes


def draw_describable_scene(rng: random.Random, min_size: int, max_size: int,
                           max_objects: int) -> tuple:
    """Draw scenes (size, objects, rasterized) until at least two objects
    can be singled out by an expression.

    Returns:
        tuple: ``w``, ``h``, the objects (see :func:`rasterize_objects`) and
        per object its candidate expressions (:func:`candidate_expressions`).
    """
    while True:
        w = rng.randint(min_size, max_size)
        h = rng.randint(min_size, max_size)
        objs = place_objects(rng, w, h, max_objects)
        if objs is None:
            continue
        rasterize_objects(objs, w, h, rng)
        cands = [candidate_expressions(o, objs, w, h) for o in objs]
        if sum(1 for c in cands if c) >= 2:
            return w, h, objs, cands


def write_scene_image(objs: List[dict], w: int, h: int, image_id: int,
                      img_dir: str, rng: random.Random,
                      nprng: np.random.Generator, jpeg_quality: int) -> dict:
    """Paint the scene, write ``synth_<image_id>.jpg`` into ``img_dir`` and
    return its COCO image record."""
    file_name = f'synth_{image_id:06d}.jpg'
    img = paint_scene(objs, w, h, rng, nprng)
    cv2.imwrite(osp.join(img_dir, file_name), img,
                [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return dict(id=image_id, file_name=file_name, height=h, width=w)


def annotate_objects(objs: List[dict], image_id: int, first_ann_id: int,
                     rng: random.Random, rle_prob: float) -> List[dict]:
    """COCO annotations of the objects (ids from ``first_ann_id`` on), each
    stored as polygons or, with probability ``rle_prob``, compressed RLE."""
    cat_id = {c['name']: c['id'] for c in CATEGORIES}
    anns = []
    for k, o in enumerate(objs):
        ys, xs = np.nonzero(o['mask'])
        bbox = [float(xs.min()), float(ys.min()),
                float(xs.max() - xs.min() + 1),
                float(ys.max() - ys.min() + 1)]
        seg = (_encode_rle(o['mask']) if rng.random() < rle_prob
               else o['parts'])
        anns.append(dict(
            id=first_ann_id + k, image_id=image_id,
            category_id=cat_id[o['shape']], segmentation=seg,
            area=float(o['area']), bbox=bbox, iscrowd=0))
    return anns


def sentence_record(sent_id: int, text: str, kind: str,
                    rng: random.Random) -> dict:
    """The refs' sentence dict of expression ``text`` (its ``raw`` form
    capitalised with probability 0.5)."""
    raw = text[0].upper() + text[1:] if rng.random() < 0.5 else text
    return dict(sent_id=sent_id, sent=text, raw=raw, tokens=text.split(),
                kind=kind)


# ------------------------------------------------------------------- main
def make_synthetic_refcoco(out_dir: str = 'data/synthetic',
                           num_images: Optional[int] = None,
                           split_sizes: Optional[Dict[str, int]] = None,
                           seed: int = 0,
                           min_size: int = 160,
                           max_size: int = 256,
                           max_objects: int = 4,
                           max_refs_per_image: int = 3,
                           max_sents_per_ref: int = 3,
                           lr_prob: float = 0.5,
                           attr_prob: float = 0.7,
                           rle_prob: float = 0.4,
                           jpeg_quality: int = 92) -> dict:
    """Generate the dataset; deterministic for a given seed and arguments.

    Args:
        out_dir (str): Output folder (created).
        num_images (int, optional): Total number of images, shared 8:1:1:1
            by train / val / testA / testB (at least 1 each). Overrides
            ``split_sizes``.
        split_sizes (dict, optional): Images per unc split; defaults to
            :data:`DEFAULT_SPLIT_SIZES` (400 / 50 / 50 / 50).
        seed (int): Random seed.
        min_size, max_size (int): Range of image width and height (drawn
            independently, so images are rarely square).
        max_objects (int): Objects per image (2..max_objects).
        max_refs_per_image (int): Refs per image (2..this, at most the
            number of objects).
        max_sents_per_ref (int): Expressions per ref (1..this).
        lr_prob (float): Chance that a ref whose target can be described with
            left/right gets such an expression.
        attr_prob (float): Chance that each further expression of a ref is
            attribute-only (colour / shape words) when the target allows it.
        rle_prob (float): Share of annotations stored as compressed RLE.
        jpeg_quality (int): JPEG quality.

    Returns:
        dict: Summary: paths, and per split file and split the numbers of
        images, refs and sentences.
    """
    split_sizes = resolve_split_sizes(num_images, split_sizes)
    if min_size > max_size or min_size < 48:
        raise ValueError('need 48 <= min_size <= max_size')

    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    img_dir = osp.join(out_dir, 'images')
    ann_dir = osp.join(out_dir, 'refcoco')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    cat_id = {c['name']: c['id'] for c in CATEGORIES}

    images, annotations, refs = [], [], []
    ann_id = ref_id = sent_id = 0
    image_id = 0
    for split in UNC_SPLITS:
        for _ in range(split_sizes.get(split, 0)):
            w, h, objs, cands = draw_describable_scene(
                rng, min_size, max_size, max_objects)
            describable = [i for i, c in enumerate(cands) if c]
            image_id += 1
            images.append(write_scene_image(objs, w, h, image_id, img_dir, rng,
                                            nprng, jpeg_quality))
            anns = annotate_objects(objs, image_id, ann_id + 1, rng, rle_prob)
            annotations += anns
            obj_ann = [a['id'] for a in anns]
            ann_id = obj_ann[-1]

            n_refs = rng.randint(2, min(max_refs_per_image, len(describable)))
            for i in sorted(rng.sample(describable, n_refs)):
                ref_id += 1
                chosen = pick_sentences(cands[i], rng, max_sents_per_ref,
                                        lr_prob, attr_prob)
                sentences, sent_ids = [], []
                for e in chosen:
                    sent_id += 1
                    sent_ids.append(sent_id)
                    sentences.append(sentence_record(sent_id, e['text'],
                                                     e['kind'], rng))
                refs.append(dict(
                    ref_id=ref_id, ann_id=obj_ann[i], image_id=image_id,
                    category_id=cat_id[objs[i]['shape']], split=split,
                    sent_ids=sent_ids, sentences=sentences,
                    file_name=f'synth_{image_id:06d}_{obj_ann[i]}.jpg'))

    with open(osp.join(ann_dir, 'instances.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=CATEGORIES,
                       info=dict(description='asda synthetic refcoco',
                                 seed=seed)), f)
    mapping = dict(unc={s: s for s in UNC_SPLITS}, umd=UMD_OF_UNC,
                   google=GOOGLE_OF_UNC)
    summary = dict(out_dir=out_dir, img_dir=img_dir,
                   ann_file=osp.join(ann_dir, 'instances.json'),
                   num_images=len(images), num_annotations=len(annotations),
                   num_refs=len(refs),
                   num_sentences=sum(len(r['sentences']) for r in refs),
                   split_files={}, splits={})
    for split_by, to_split in mapping.items():
        split_refs = [dict(r, split=to_split[r['split']]) for r in refs]
        path = osp.join(ann_dir, f'refs({split_by}).p')
        with open(path, 'wb') as f:
            pickle.dump(split_refs, f, protocol=2)
        summary['split_files'][split_by] = path
        stats = {}
        for s in SPLIT_FILES[split_by]:
            rs = [r for r in split_refs if r['split'] == s]
            stats[s] = dict(images=len({r['image_id'] for r in rs}),
                            refs=len(rs),
                            sentences=sum(len(r['sentences']) for r in rs))
        summary['splits'][split_by] = stats
    summary['counts_file'] = write_counts_manifest(ann_dir, summary['splits'])
    return summary


def write_counts_manifest(ann_dir: str, splits: Dict[str, dict],
                          source: str = 'asda.datasets.synthetic',
                          **extra) -> str:
    """Write ``counts.json`` beside the refs pickles: per split file and
    split, the numbers of refs, expressions and images, which
    ``tools/dataset_converters/check_refer_data.py`` compares the folder
    with (as it compares RefCOCO with the published counts). ``source``
    names the generator; ``extra`` items are written after ``counts``."""
    counts = {split_by: {split: dict(refs=v['refs'], expressions=v['sentences'],
                                     images=v['images'])
                         for split, v in stats.items()}
              for split_by, stats in splits.items()}
    path = osp.join(ann_dir, 'counts.json')
    with open(path, 'w') as f:
        json.dump(dict(source=source, counts=counts, **extra), f, indent=1)
    return path


# ------------------------------------------------------------ command line
def add_generator_arguments(parser, out_dir: str) -> None:
    """The command-line options the synthetic generators share (output,
    seed, split sizes, scenes, expression mix): the one list, for
    ``make_synthetic_refcoco.py`` and ``make_synthetic_grefcoco.py``."""
    parser.add_argument('--out-dir', default=out_dir)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-images', type=int, default=None,
                        help='total images, shared 8:1:1:1 by train/val/'
                        'testA/testB (overrides --num-train etc.)')
    for split, n in DEFAULT_SPLIT_SIZES.items():
        parser.add_argument(f'--num-{split}', type=int, default=n,
                            help=f'images in unc {split} (default {n})')
    parser.add_argument('--min-size', type=int, default=160,
                        help='smallest image side')
    parser.add_argument('--max-size', type=int, default=256,
                        help='largest image side')
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--max-refs-per-image', type=int, default=3)
    parser.add_argument('--max-sents-per-ref', type=int, default=3)
    parser.add_argument('--lr-prob', type=float, default=0.5)
    parser.add_argument('--attr-prob', type=float, default=0.7)
    parser.add_argument('--rle-prob', type=float, default=0.4)


def generator_kwargs(args) -> dict:
    """The generator arguments of :func:`add_generator_arguments`' options
    (all but ``--out-dir``)."""
    return dict(
        num_images=args.num_images,
        split_sizes={s: getattr(args, f'num_{s}') for s in UNC_SPLITS},
        seed=args.seed, min_size=args.min_size, max_size=args.max_size,
        max_objects=args.max_objects, max_refs_per_image=args.max_refs_per_image,
        max_sents_per_ref=args.max_sents_per_ref, lr_prob=args.lr_prob,
        attr_prob=args.attr_prob, rle_prob=args.rle_prob)
