"""Write a small synthetic gRefCOCO (generalized referring) dataset.

::

    out_dir/images/synth_000001.jpg ...
    out_dir/grefcoco/instances.json      COCO: images, annotations, categories
    out_dir/grefcoco/grefs(unc).json     grefs, splits train / val / testA / testB
    out_dir/grefcoco/counts.json         grefs / expressions / images per split,
                                         expressions per form and their shares

The scenes, images and annotations are drawn as :mod:`asda.synthetic.refer`
draws them (the same steps: 2-4 coloured shapes, image sides 160-256,
polygons and RLE). Each image gets three forms of expression (the sentence's
``kind``; its finer ``detail`` beside it):

* ``single``: the referring generator's expressions of one object (detail:
  its kind, e.g. 'colour', 'left/right');
* ``multi``: several objects, e.g. "all red objects", "both circles", "the
  three squares", "all the triangles on the left" (detail: 'colour',
  'shape', 'colour+shape' or 'region'); the target is their union;
* ``no-target``: a target expression of the same split with its noun phrase
  given a colour and / or shape that no object of the image has (or none
  inside its region), e.g. "the purple hexagon" (detail: what it names,
  'colour', 'shape', 'colour+shape', 'colour+region', ...). Only
  combinations (colour, shape, region) that a target expression of the
  train split names are used, so each is seen with a target in training.

Every expression names a colour or a shape: the referring generator's
expressions that name neither ("the leftmost object") are left out, as a
no-target expression must name something absent and such wording alone
would give the answer away (see
:func:`asda.synthetic.probes.text_only_control`).

A gref: ``{ref_id, ann_id: [int, ...] ([-1]: no target), image_id,
category_id: [int, ...] ([] for no target), split, sent_ids, sentences:
[{sent_id, sent, raw, tokens, kind, detail}], no_target: bool}``. Every
expression is checked with :func:`asda.synthetic.expressions.
referred_objects`, which parses it on its own: it must yield exactly its
gref's objects (none for no target).

From Python::

    from asda.synthetic.gres import make_synthetic_grefcoco
    make_synthetic_grefcoco('data/synthetic_gres', seed=0)

or from the shell (the same function)::

    python tools/dataset_converters/make_synthetic_grefcoco.py \\
        --out-dir data/synthetic_gres --seed 0
"""
import json
import os.path as osp
import random
from collections import defaultdict
from typing import Dict, List, Optional

from .expressions import expression_combination, parse_expression, referred_objects
from .refer import chosen_expressions, draw_describable_scene
from .scenes import (
    COLOURS,
    GENERIC_PLURALS,
    MAX_OBJECTS,
    PLURAL_NOUNS,
    PLURAL_SHAPES,
    REGIONS,
    SINGULAR_NOUNS,
    region_split,
    scene_record,
)
from .writing import (
    UNC_SPLITS,
    DatasetWriter,
    sentence_record,
    split_counts,
    write_counts_manifest,
)

__all__ = ['make_synthetic_grefcoco', 'multi_target_expressions',
           'with_combination', 'FORMS', 'GRES_GENERATOR_VERSION', 'GREFS_FILE']

#: Version of this generator's output. 2: the world's scale of
#: :data:`asda.synthetic.scenes.RADIUS_RANGE` and
#: :data:`asda.synthetic.scenes.MAX_OBJECTS` (larger objects, 2-3 of them).
GRES_GENERATOR_VERSION = 2
#: The forms of expression (the sentence's ``kind``).
FORMS = ('single', 'multi', 'no-target')
#: The grefs file, relative to the output folder.
GREFS_FILE = osp.join('grefcoco', 'grefs(unc).json')


# ------------------------------------------------------------- expressions
def multi_target_expressions(scene: dict) -> Dict[tuple, List[dict]]:
    """Expressions of two or more objects of ``scene``, by target.

    Plural nouns (colour, shape, colour + shape) with a quantifier
    ('all', 'all the', 'both' / 'the two' for two, 'the three' for three),
    and regions of the image ('all the circles on the left'): a region's
    members must be clearly inside it and the others of the noun clearly
    outside (:func:`asda.synthetic.scenes.region_split`).

    Returns:
        dict: sorted tuple of object indices -> list of ``dict(text,
        detail)``.
    """
    w, h, objs = scene['w'], scene['h'], scene['objects']
    out = defaultdict(list)
    for colour in [None] + sorted({o['colour'] for o in objs}):
        for shape in [None] + sorted({o['shape'] for o in objs}):
            if not (colour or shape):
                continue  # every expression names a colour or a shape
            members = [i for i, o in enumerate(objs)
                       if colour in (None, o['colour'])
                       and shape in (None, o['shape'])]
            head = [colour] if colour else []
            nouns = ([' '.join(head + [PLURAL_SHAPES[shape]])] if shape else
                     [' '.join(head + [n]) for n in GENERIC_PLURALS])
            detail = ('colour+shape' if colour and shape else
                      'colour' if colour else 'shape')
            quants = ['all', 'all the'] + (
                ['both', 'the two'] if len(members) == 2 else
                ['the three'] if len(members) == 3 else [])
            if len(members) >= 2:
                out[tuple(members)] += [
                    dict(text=f'{q} {n}', detail=detail)
                    for q in quants for n in nouns]
            for region in REGIONS:
                inside, border = region_split(region, members, objs, w, h)
                if len(inside) >= 2 and not border:
                    out[tuple(inside)] += [
                        dict(text=f'{q} {n} {region}', detail='region')
                        for q in ('all the', 'the') for n in nouns]
    return dict(out)


def with_combination(text: str, colour: Optional[str],
                     shape: Optional[str]) -> str:
    """``text`` with its noun phrase naming ``colour`` and ``shape`` instead
    (None: none): the rest of the expression (determiner, relation,
    quantifier, region) is kept, and so is a generic noun when no shape is
    named ('object' replaces a shape word)."""
    tokens = text.split()
    spec = parse_expression(text)
    k = next(i for i, t in enumerate(tokens)
             if t in SINGULAR_NOUNS or t in PLURAL_NOUNS)
    start = k - 1 if k and tokens[k - 1] in COLOURS else k
    noun = tokens[k]
    if shape:
        noun = PLURAL_SHAPES[shape] if spec['plural'] else shape
    elif spec['shape']:
        noun = 'objects' if spec['plural'] else 'object'
    return ' '.join(tokens[:start] + ([colour] if colour else []) + [noun] +
                    tokens[k + 1:])


def _names_attribute(text: str) -> bool:
    colour, shape, _ = expression_combination(text)
    return colour is not None or shape is not None


def _named(combo: tuple) -> str:
    """'colour', 'shape', 'region' or their join ('colour+shape')."""
    return '+'.join(n for n, v in zip(('colour', 'shape', 'region'), combo)
                    if v is not None)


def _empty_here(text: str, scene: dict) -> bool:
    try:
        return referred_objects(text, scene) == []
    except ValueError:  # names an object without picking it out clearly
        return False


def _no_target_gref(scene: dict, pool: List[str], combos: set, used: set,
                    rng: random.Random, max_sents: int):
    """Sentences of one no-target gref, or None if no draw fits.

    A template is drawn from ``pool`` (the target expressions of the split)
    and given the colour / shape of a combination of ``combos`` (those the
    train split's target expressions name) that leaves it without a
    referent in the scene; the template's own kind of combination (colour,
    shape, both, region) is preferred. Further sentences apply the same
    colour and shape to other templates of the pool that name the same kind
    of combination."""
    attrs = sorted({c[:2] for c in combos}, key=str)
    for _ in range(50):
        template = rng.choice(pool)
        options = {}
        for colour, shape in attrs:
            text = with_combination(template, colour, shape)
            if text not in used and expression_combination(text) in combos \
                    and _empty_here(text, scene):
                options[text] = (colour, shape)
        own = _named(expression_combination(template))
        same = sorted(t for t in options
                      if _named(expression_combination(t)) == own)
        texts = same or sorted(options)
        if texts:
            break
    else:
        return None
    first = rng.choice(texts)
    colour, shape = options[first]
    combo = expression_combination(first)
    alike = [t for t in pool
             if _named(expression_combination(t)) == _named(combo)]
    chosen = [first]
    want = rng.randint(1, max_sents)
    for _ in range(4 * max_sents):
        if len(chosen) == want or not alike:
            break
        text = with_combination(rng.choice(alike), colour, shape)
        if text not in used and text not in chosen and \
                expression_combination(text) == combo and \
                _empty_here(text, scene):
            chosen.append(text)
    used.update(chosen)
    return [_sentence(t, 'no-target', _named(combo), [], scene, rng)
            for t in chosen]


def _sentence(text: str, form: str, detail: str, targets: list, scene: dict,
              rng: random.Random) -> dict:
    """The sentence record of ``text``, after checking that it refers to
    exactly ``targets`` in ``scene``."""
    found = referred_objects(text, scene)
    if found != sorted(targets):
        raise RuntimeError(f'generated {form} expression {text!r} refers to '
                           f'objects {found}, not {sorted(targets)}')
    return dict(sentence_record(0, text, form, rng), detail=detail)


# ------------------------------------------------------------------ grefs
def _multi_target_grefs(scene: dict, rng: random.Random, counts: dict,
                        multi_of_targets: float, max_sents: int) -> list:
    """Multi-target grefs of a scene, while the split's multi-target share
    of its target expressions (``counts``, updated) is below
    ``multi_of_targets``."""
    multi = multi_target_expressions(scene)
    targets = sorted(multi)
    rng.shuffle(targets)
    grefs = []
    while targets and counts['multi'] < multi_of_targets * (
            counts['single'] + counts['multi']):
        target = targets.pop()
        chosen = rng.sample(multi[target], rng.randint(
            1, min(max_sents, len(multi[target]))))
        grefs.append((list(target), [
            _sentence(e['text'], 'multi', e['detail'], target, scene, rng)
            for e in chosen]))
        counts['multi'] += len(chosen)
    return grefs


def _target_entry(writer: DatasetWriter, split: str, counts: dict,
                  multi_of_targets: float, expression_kw: dict) -> dict:
    """Draw and write one image; its scene, annotations and target grefs
    ((object indices, sentences) pairs), single then multi."""
    rng = writer.rng
    w, h, objs, cands = draw_describable_scene(rng, **writer.scene_kw)
    image_id, anns = writer.add_image(objs, w, h)
    scene = scene_record(objs, w, h)
    # Every expression names a colour or a shape (see the module
    # docstring): the referring candidates that name neither go.
    cands = [[e for e in c if _names_attribute(e['text'])] for c in cands]
    grefs = []
    for i, chosen in chosen_expressions(cands, rng, **expression_kw):
        grefs.append(([i], [_sentence(e['text'], 'single', e['kind'], [i],
                                      scene, rng) for e in chosen]))
        counts['single'] += len(chosen)
    grefs += _multi_target_grefs(scene, rng, counts, multi_of_targets,
                                 expression_kw['max_sents'])
    return dict(split=split, image_id=image_id, scene=scene, anns=anns,
                grefs=grefs)


def _add_no_target_grefs(entries: List[dict], rng: random.Random,
                         no_target_share: float, max_sents: int) -> None:
    """Add no-target grefs to the images of ``entries``, in place, up to
    ``no_target_share`` of each split's expressions (at most 3 per image),
    from the combinations that the train split's targets name."""
    def target_texts(split):
        return [s['sent'] for e in entries if e['split'] == split
                for _, sents in e['grefs'] for s in sents]

    combos = {expression_combination(t) for t in target_texts('train')}
    for split in UNC_SPLITS:
        pool = target_texts(split)
        n_target = n_none = 0
        for e in (e for e in entries if e['split'] == split):
            n_target += sum(len(s) for _, s in e['grefs'])
            used = {s['sent'] for _, sents in e['grefs'] for s in sents}
            added = 0
            while pool and added < 3 and \
                    n_none < no_target_share * (n_target + n_none):
                sents = _no_target_gref(e['scene'], pool, combos, used, rng,
                                        max_sents)
                if sents is None:
                    break
                e['grefs'].append(([], sents))
                n_none += len(sents)
                added += 1


def _numbered_grefs(entries: List[dict]) -> List[dict]:
    """The grefs of ``entries``, their sentences numbered image by image."""
    grefs, sent_id = [], 0
    for e in entries:
        for targets, sents in e['grefs']:
            for s in sents:
                sent_id += 1
                s['sent_id'] = sent_id
            grefs.append(dict(
                ref_id=len(grefs) + 1,
                ann_id=[e['anns'][i]['id'] for i in targets] or [-1],
                image_id=e['image_id'],
                category_id=[e['anns'][i]['category_id'] for i in targets],
                split=e['split'], sent_ids=[s['sent_id'] for s in sents],
                sentences=sents, no_target=not targets))
    return grefs


def make_synthetic_grefcoco(
        out_dir: str = 'data/synthetic_gres', seed: int = 0,
        split_sizes: Optional[Dict[str, int]] = None,
        num_images: Optional[int] = None, min_size: int = 160,
        max_size: int = 256, max_objects: int = MAX_OBJECTS,
        max_refs_per_image: int = 3,
        max_sents_per_ref: int = 3, lr_prob: float = 0.5, attr_prob: float = 0.7,
        multi_share: float = 0.25, no_target_share: float = 0.22,
        rle_prob: float = 0.4, jpeg_quality: int = 92) -> dict:
    """Generate the dataset; deterministic for a given seed and arguments.

    Args:
        out_dir (str): Output folder (created).
        seed (int): Random seed.
        split_sizes (dict, optional): Images per split; defaults to
            :data:`asda.synthetic.writing.DEFAULT_SPLIT_SIZES`.
        num_images (int, optional): Total images, shared 8:1:1:1 (overrides
            ``split_sizes``).
        min_size, max_size, max_objects, max_sents_per_ref, lr_prob,
        attr_prob, rle_prob, jpeg_quality: as for
            :func:`asda.synthetic.refer.make_synthetic_refcoco`.
        max_refs_per_image (int): Single-target grefs per image (2..this).
        multi_share (float): Share of multi-target expressions aimed at per
            split (kept as each image is written; an image without a group
            of objects to name adds none).
        no_target_share (float): Share of no-target expressions aimed at
            per split.

    Returns:
        dict: paths, numbers of images / annotations / grefs / sentences,
        and per split the counts and the shares of the forms.
    """
    if min(multi_share, no_target_share) < 0 or \
            multi_share + no_target_share >= 1:
        raise ValueError(f'need multi_share, no_target_share >= 0 with sum '
                         f'< 1, got {multi_share}, {no_target_share}')
    writer = DatasetWriter(out_dir, 'grefcoco', seed, num_images, split_sizes,
                           min_size, max_size, max_objects, rle_prob, jpeg_quality)
    expression_kw = dict(max_refs=max_refs_per_image, max_sents=max_sents_per_ref,
                         lr_prob=lr_prob, attr_prob=attr_prob)
    # The multi-target share among target expressions that gives
    # ``multi_share`` of all once the no-target ones are added.
    multi_of_targets = multi_share / (1 - no_target_share)
    entries = []
    for split in UNC_SPLITS:
        counts = dict(single=0, multi=0)
        for _ in range(writer.split_sizes.get(split, 0)):
            entries.append(_target_entry(writer, split, counts, multi_of_targets,
                                         expression_kw))
    _add_no_target_grefs(entries, writer.rng, no_target_share, max_sents_per_ref)
    grefs = _numbered_grefs(entries)
    writer.write_instances('asda synthetic grefcoco', version=GRES_GENERATOR_VERSION)
    grefs_path = osp.join(out_dir, GREFS_FILE)
    with open(grefs_path, 'w') as f:
        json.dump(grefs, f)
    return _summarize(writer, grefs_path, grefs)


def _summarize(writer: DatasetWriter, grefs_path: str, grefs: List[dict]) -> dict:
    """Counts per split and form, written to counts.json and returned."""
    stats, forms, shares = {}, {}, {}
    for split in UNC_SPLITS:
        gs = [g for g in grefs if g['split'] == split]
        sents = [s for g in gs for s in g['sentences']]
        stats[split] = split_counts(gs)
        forms[split] = {form: dict(
            grefs=sum(1 for g in gs if g['sentences'][0]['kind'] == form),
            expressions=sum(1 for s in sents if s['kind'] == form))
            for form in FORMS}
        shares[split] = {form: round(v['expressions'] / max(1, len(sents)), 4)
                         for form, v in forms[split].items()}
    counts_file = write_counts_manifest(
        writer.ann_dir, dict(unc=stats), __name__,
        version=GRES_GENERATOR_VERSION, forms=forms, shares=shares)
    return dict(out_dir=writer.out_dir, img_dir=writer.img_dir,
                ann_file=osp.join(writer.ann_dir, 'instances.json'),
                grefs_file=grefs_path, counts_file=counts_file,
                num_images=len(writer.images),
                num_annotations=len(writer.annotations), num_refs=len(grefs),
                num_sentences=sum(len(g['sentences']) for g in grefs),
                splits=stats, forms=forms, shares=shares)
