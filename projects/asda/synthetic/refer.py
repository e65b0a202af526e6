"""Write a small synthetic referring-segmentation dataset in the refer format.

::

    out_dir/images/synth_000001.jpg ...
    out_dir/refcoco/instances.json     COCO: images, annotations, categories
    out_dir/refcoco/refs(unc).p        splits train / val / testA / testB
    out_dir/refcoco/refs(umd).p        train / val / test   (same refs)
    out_dir/refcoco/refs(google).p     train / val          (same refs)
    out_dir/refcoco/counts.json        refs / expressions / images per split

Each image shows 2-4 coloured shapes (circle, square, triangle, diamond,
hexagon; :mod:`asda.synthetic.scenes`) on a plain or lightly noisy
background; image sizes vary and are not square. Every image has at least
two refs to different objects, and every expression is built to single out
its target among the distractors, using colour, shape, relative position
(left / right / top / bottom) and size (bigger / smaller). Objects are
annotated with polygons (squares as two parts) or with compressed RLE
(pycocotools, counts as str).

Split mapping (by image, so a split never shares images with another):
unc train / val / testA / testB; umd train / val / test (= testA + testB);
google train / val (= val + testA + testB).

It is the embedded dataset of the demo, the tests and the benchmarks. From
Python::

    from asda.synthetic.refer import make_synthetic_refcoco
    make_synthetic_refcoco('data/synthetic', seed=0)

or from the shell (the same function)::

    python tools/dataset_converters/make_synthetic_refcoco.py \\
        --out-dir data/synthetic --seed 0
"""
import os.path as osp
import pickle
import random
from typing import Dict, Iterator, List, Optional, Tuple

from .scenes import (
    COLOURS,
    GENERIC_NOUNS,
    MAX_OBJECTS,
    SHAPES,
    draw_layout,
    rasterize_objects,
    relation_holds,
)
from .writing import (
    UNC_SPLITS,
    DatasetWriter,
    sentence_record,
    split_counts,
    write_counts_manifest,
)

__all__ = ['make_synthetic_refcoco', 'GENERATOR_VERSION', 'EXPRESSION_KINDS',
           'VOCABULARY', 'SPLIT_FILES', 'candidate_expressions',
           'pick_sentences', 'draw_describable_scene', 'chosen_expressions']

#: Version of the generator's output. 2: each sentence dict of the refs
#: carries its expression ``kind`` (images, instances.json and the other
#: ref fields are those of version 1, byte for byte, for the same seed).
#: 3: the world's scale of :data:`asda.synthetic.scenes.RADIUS_RANGE` and
#: :data:`asda.synthetic.scenes.MAX_OBJECTS` (larger objects, 2-3 of them);
#: ``instances.json`` records the version in ``info``.
GENERATOR_VERSION = 3

UMD_OF_UNC = dict(train='train', val='val', testA='test', testB='test')
GOOGLE_OF_UNC = dict(train='train', val='val', testA='val', testB='val')
SPLIT_FILES = {'unc': UNC_SPLITS, 'umd': ('train', 'val', 'test'),
               'google': ('train', 'val')}

# Words per relation of :data:`asda.synthetic.scenes.PAIR_RELATIONS` that
# the target has to every other candidate: the phrases for a scene of two
# candidates, those for three or more, and the expression kind recorded in
# the refs.
RELATION_PHRASES = {
    'left of': (('the {noun} on the left', 'left {noun}'),
                ('the leftmost {noun}', '{noun} on the far left'), 'left/right'),
    'right of': (('the {noun} on the right', 'right {noun}'),
                 ('the rightmost {noun}', '{noun} on the far right'), 'left/right'),
    'above': (('the top {noun}', 'upper {noun}'),
              ('the topmost {noun}', '{noun} at the top'), 'top/bottom'),
    'below': (('the bottom {noun}', 'lower {noun}'),
              ('the lowest {noun}', '{noun} at the bottom'), 'top/bottom'),
    'bigger than': (('the bigger {noun}', 'larger {noun}'),
                    ('the biggest {noun}', 'largest {noun}'), 'size'),
    'smaller than': (('the smaller {noun}', 'small {noun}'),
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
#: the demo's breakdown and the tests read.
VOCABULARY = dict(
    colour=tuple(COLOURS),
    shape=SHAPES,
    position=_relation_words('left/right') + _relation_words('top/bottom'),
    left_right=_relation_words('left/right'),
    top_bottom=_relation_words('top/bottom'),
    size=_relation_words('size'),
)


# ------------------------------------------------------------- expressions
def _attribute_expressions(nouns: List[str], kind: str) -> List[dict]:
    """'the {noun}' and '{noun}' for nouns that alone single out the
    target."""
    out = []
    for noun in nouns:
        out.append(dict(text=f'the {noun}', pool='attr', kind=kind))
        out.append(dict(text=noun, pool='attr', kind=kind))
    return out


def _relational_expressions(target: dict, members: List[dict],
                            nouns: List[str], w: int, h: int) -> List[dict]:
    """The relation phrases of each relation the target has clearly to
    every other member of a group its nouns name."""
    others = [o for o in members if o is not target]
    holds = [relation for relation in RELATION_PHRASES
             if all(relation_holds(relation, target, o, w, h) for o in others)]
    out = []
    for noun in nouns:
        for relation in holds:
            pair, many, kind = RELATION_PHRASES[relation]
            texts = pair if len(members) == 2 else many
            pool = 'lr' if kind == 'left/right' else 'other'
            out += [dict(text=t.format(noun=noun), pool=pool, kind=kind)
                    for t in texts]
    return out


def candidate_expressions(target: dict, objs: List[dict], w: int,
                          h: int) -> List[dict]:
    """Expressions that single out ``target`` among ``objs``.

    Returns a list of dicts ``(text, pool, kind)``: pool in {'attr', 'lr',
    'other'} (attr = colour / shape words alone, lr = uses left/right, other
    = top / bottom / size words) steers :func:`pick_sentences`; kind is the
    one of :data:`EXPRESSION_KINDS` recorded in the refs.
    """
    c, s = target['colour'], target['shape']
    by_colour = [o for o in objs if o['colour'] == c]
    by_shape = [o for o in objs if o['shape'] == s]
    # The colour + shape noun's minimal set: colour alone, shape alone, both.
    both_kind = ('colour' if len(by_colour) == 1 else
                 'shape' if len(by_shape) == 1 else 'colour+shape')
    groups = [
        # (members, noun phrases, can be alone, kind when alone); the group
        # of all objects needs a relation.
        (objs, list(GENERIC_NOUNS), False, None),
        (by_colour, [f'{c} {n}' for n in GENERIC_NOUNS], True, 'colour'),
        (by_shape, [s], True, 'shape'),
        ([o for o in by_colour if o['shape'] == s], [f'{c} {s}'], True,
         both_kind),
    ]
    out = []
    for members, nouns, can_be_alone, alone_kind in groups:
        if len(members) == 1 and can_be_alone:
            out += _attribute_expressions(nouns, alone_kind)
        elif len(members) >= 2:
            out += _relational_expressions(target, members, nouns, w, h)
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


def chosen_expressions(cands: List[List[dict]], rng: random.Random,
                       max_refs: int, max_sents: int, lr_prob: float,
                       attr_prob: float) -> Iterator[Tuple[int, List[dict]]]:
    """The refs of an image, drawn one at a time: 2..max_refs objects
    (fewer if fewer have an expression), in index order, each with its
    expressions (:func:`pick_sentences` of its candidates ``cands[i]``).

    Yields:
        tuple: object index, its expressions.
    """
    describable = [i for i, c in enumerate(cands) if c]
    n_refs = rng.randint(min(2, len(describable)),
                         min(max_refs, len(describable)))
    for i in sorted(rng.sample(describable, n_refs)):
        yield i, pick_sentences(cands[i], rng, max_sents, lr_prob, attr_prob)


def draw_describable_scene(rng: random.Random, min_size: int = 160,
                           max_size: int = 256, **place_kw) -> tuple:
    """Draw rasterized scenes (:func:`asda.synthetic.scenes.draw_layout`)
    until at least two objects can be singled out by an expression.

    Returns:
        tuple: ``w``, ``h``, the objects and per object its candidate
        expressions (:func:`candidate_expressions`).
    """
    while True:
        w, h, objs = draw_layout(rng, min_size, max_size, **place_kw)
        rasterize_objects(objs, w, h, rng)
        cands = [candidate_expressions(o, objs, w, h) for o in objs]
        if sum(1 for c in cands if c) >= 2:
            return w, h, objs, cands


# --------------------------------------------------------------- the files
def _image_refs(writer: DatasetWriter, split: str, refs: List[dict],
                expression_kw: dict) -> List[dict]:
    """Draw and write one image; its refs (numbered after ``refs``)."""
    rng = writer.rng
    w, h, objs, cands = draw_describable_scene(rng, **writer.scene_kw)
    image_id, anns = writer.add_image(objs, w, h)
    sent_id = refs[-1]['sent_ids'][-1] if refs else 0
    new = []
    for i, chosen in chosen_expressions(cands, rng, **expression_kw):
        sentences = []
        for e in chosen:
            sent_id += 1
            sentences.append(sentence_record(sent_id, e['text'], e['kind'], rng))
        ann = anns[i]
        new.append(dict(
            ref_id=len(refs) + len(new) + 1, ann_id=ann['id'],
            image_id=image_id, category_id=ann['category_id'], split=split,
            sent_ids=[s['sent_id'] for s in sentences], sentences=sentences,
            file_name=f'synth_{image_id:06d}_{ann["id"]}.jpg'))
    return new


def _write_split_files(ann_dir: str, refs: List[dict]) -> tuple:
    """Write the refs once per split file (unc, umd, google), each with its
    own split names.

    Returns:
        tuple: paths by split file; per split file and split, the
        :func:`asda.synthetic.writing.split_counts`.
    """
    mapping = dict(unc={s: s for s in UNC_SPLITS}, umd=UMD_OF_UNC,
                   google=GOOGLE_OF_UNC)
    paths, splits = {}, {}
    for split_by, to_split in mapping.items():
        split_refs = [dict(r, split=to_split[r['split']]) for r in refs]
        paths[split_by] = osp.join(ann_dir, f'refs({split_by}).p')
        with open(paths[split_by], 'wb') as f:
            pickle.dump(split_refs, f, protocol=2)
        splits[split_by] = {s: split_counts(r for r in split_refs if r['split'] == s)
                            for s in SPLIT_FILES[split_by]}
    return paths, splits


def make_synthetic_refcoco(
        out_dir: str = 'data/synthetic', num_images: Optional[int] = None,
        split_sizes: Optional[Dict[str, int]] = None, seed: int = 0,
        min_size: int = 160, max_size: int = 256,
        max_objects: int = MAX_OBJECTS, max_refs_per_image: int = 3, max_sents_per_ref: int = 3,
        lr_prob: float = 0.5, attr_prob: float = 0.7, rle_prob: float = 0.4,
        jpeg_quality: int = 92) -> dict:
    """Generate the dataset; deterministic for a given seed and arguments.

    Args:
        out_dir (str): Output folder (created).
        num_images (int, optional): Total number of images, shared 8:1:1:1
            by train / val / testA / testB (at least 1 each). Overrides
            ``split_sizes``.
        split_sizes (dict, optional): Images per unc split; defaults to
            :data:`asda.synthetic.writing.DEFAULT_SPLIT_SIZES` (400 / 50 /
            50 / 50).
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
    writer = DatasetWriter(out_dir, 'refcoco', seed, num_images, split_sizes,
                           min_size, max_size, max_objects, rle_prob, jpeg_quality)
    expression_kw = dict(max_refs=max_refs_per_image, max_sents=max_sents_per_ref,
                         lr_prob=lr_prob, attr_prob=attr_prob)
    refs = []
    for split in UNC_SPLITS:
        for _ in range(writer.split_sizes.get(split, 0)):
            refs += _image_refs(writer, split, refs, expression_kw)
    ann_file = writer.write_instances('asda synthetic refcoco',
                                      version=GENERATOR_VERSION)
    split_files, splits = _write_split_files(writer.ann_dir, refs)
    return dict(out_dir=out_dir, img_dir=writer.img_dir, ann_file=ann_file,
                num_images=len(writer.images),
                num_annotations=len(writer.annotations), num_refs=len(refs),
                num_sentences=sum(len(r['sentences']) for r in refs),
                split_files=split_files, splits=splits,
                counts_file=write_counts_manifest(writer.ann_dir, splits, __name__))
