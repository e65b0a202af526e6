"""The refer-format dataset a converter builds: images, annotations and
expressions in, ``instances.json`` plus ``refs(<split_by>).p`` (or
``grefs(<split_by>).json``) out, in the synthetic dataset's layout::

    OUT/images/<file name>              the images (copied or linked)
    OUT/<folder>/instances.json         COCO images, annotations, categories
    OUT/<folder>/refs(<split_by>).p     the refs (a GRES conversion:
                                        grefs(<split_by>).json)
    OUT/<folder>/counts.json            refs, expressions, images per split

so a config such as ``configs/asda/_base_/datasets/synthetic.py`` reads it
with ``data_root=OUT``. Expressions of one image with the same targets form
one ref (its sentences in row order). Splits are by image: the input's, or
drawn with a seeded shuffle in the given ratios (:func:`assign_splits`).

:meth:`ReferBuilder.write` fills a folder beside ``OUT`` and renames it at
the end (:func:`asda.utils.atomic.atomic_directory`): a failed conversion,
its data check included, leaves nothing.
"""
import json
import math
import os
import os.path as osp
import pickle
import random
import shutil
from collections import Counter, defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ...utils.atomic import atomic_directory
from ..refs_io import describe_problems
from .rows import ConversionError

__all__ = ['ReferBuilder', 'assign_splits', 'split_counts', 'write_counts_manifest',
           'DEFAULT_SPLIT_RATIOS', 'IMAGE_MODES', 'refs_file_name']

#: Images per split when the input gives no splits.
DEFAULT_SPLIT_RATIOS = dict(train=0.8, val=0.1, test=0.1)
#: How images reach ``OUT/images``.
IMAGE_MODES = ('copy', 'symlink', 'hardlink')


def refs_file_name(split_by: str, gres: bool) -> str:
    """``refs(<split_by>).p``, or ``grefs(<split_by>).json`` for GRES."""
    return f'grefs({split_by}).json' if gres else f'refs({split_by}).p'


def assign_splits(keys: Sequence, ratios: Dict[str, float], seed: int) -> dict:
    """A split for each key (an image), drawn in ``ratios`` (normalised).

    The keys are sorted, shuffled with ``random.Random(seed)`` and cut in
    ratio order; split sizes are rounded by largest remainder, and every
    split of positive ratio gets at least one key.

    Raises:
        ConversionError: a ratio is negative or none is positive, or there
            are fewer keys than splits of positive ratio.
    """
    if any(r < 0 for r in ratios.values()) or not any(r > 0 for r in ratios.values()):
        raise ConversionError(f'split ratios must be >= 0 with one > 0, got {ratios}')
    names = [s for s, r in ratios.items() if r > 0]
    if len(keys) < len(names):
        raise ConversionError(f'{len(keys)} image(s) cannot fill the {len(names)} splits '
                              f'{names}; give fewer split ratios')
    total = sum(ratios[s] for s in names)
    exact = [len(keys) * ratios[s] / total for s in names]
    sizes = [math.floor(x) for x in exact]
    for k in sorted(range(len(names)), key=lambda k: sizes[k] - exact[k])[
            :len(keys) - sum(sizes)]:
        sizes[k] += 1
    for k in range(len(names)):  # one each, taken from the largest
        if sizes[k] == 0:
            sizes[max(range(len(names)), key=lambda j: sizes[j])] -= 1
            sizes[k] = 1
    order = sorted(keys)
    random.Random(seed).shuffle(order)
    splits, start = {}, 0
    for name, size in zip(names, sizes):
        splits.update((key, name) for key in order[start:start + size])
        start += size
    return splits


#: Where the usual split names come in a table; others follow by name.
SPLIT_ORDER = ('train', 'val', 'test', 'testA', 'testB')


def _split_order(split: str) -> tuple:
    known = split in SPLIT_ORDER
    return (not known, SPLIT_ORDER.index(split) if known else 0, split)


def split_counts(refs: Sequence[dict]) -> Dict[str, Dict[str, int]]:
    """Per split: its ``refs``, ``expressions`` and ``images``, the counts
    ``tools/dataset_converters/check_refer_data.py`` compares a folder
    with."""
    by_split = defaultdict(list)
    for ref in refs:
        by_split[ref['split']].append(ref)
    return {split: dict(refs=len(rs), expressions=sum(len(r['sentences']) for r in rs),
                        images=len({r['image_id'] for r in rs}))
            for split, rs in sorted(by_split.items(), key=lambda kv: _split_order(kv[0]))}


def write_counts_manifest(ann_dir: str, counts: Dict[str, dict], source: str, **extra) -> str:
    """Write ``ann_dir/counts.json``: ``{'source', 'counts': {split_by:
    {split: {refs, expressions, images}}}, **extra}``, the expected counts
    ``check_refer_data.py`` reads beside a refs file."""
    path = osp.join(ann_dir, 'counts.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(dict(source=source, counts=counts, **extra), f, indent=1)
    return path


def _sentence(sent_id: int, text: str) -> dict:
    """The refs' sentence record of ``text`` (``sent``: its words joined by
    single spaces; ``raw``: as given)."""
    words = text.split()
    return dict(sent_id=sent_id, sent=' '.join(words), raw=text, tokens=words)


def _place_image(src: str, dst: str, mode: str) -> None:
    os.makedirs(osp.dirname(dst), exist_ok=True)
    if mode == 'symlink':
        os.symlink(osp.realpath(src), dst)
    elif mode == 'hardlink':
        os.link(src, dst)
    else:
        shutil.copyfile(src, dst)


class ReferBuilder:
    """Collects a conversion's images, annotations and expressions, then
    writes them (:meth:`write`).

    Args:
        gres (bool): A gRefCOCO-style conversion: an expression may have
            several targets or none. Else each has exactly one.
        source (str): Named in ``instances.json``'s ``info`` and
            ``counts.json``.
    """

    def __init__(self, gres: bool, source: str):
        self.gres = gres
        self.source = source
        self.images: Dict[int, dict] = {}
        self.image_sources: Dict[int, str] = {}
        self.annotations: Dict[int, dict] = {}
        self.categories: List[dict] = []
        #: (image id, target ann ids) -> [(text, split, row id, where)]
        self.groups: Dict[Tuple[int, tuple], List[tuple]] = {}

    # ----------------------------------------------------------- contents
    def add_image(self, image_id: int, file_name: str, height: int, width: int,
                  source: str) -> None:
        """An image, ``file_name`` under ``OUT/images``, copied from
        ``source``."""
        self.images[image_id] = dict(id=image_id, file_name=file_name, height=height,
                                     width=width)
        self.image_sources[image_id] = source

    def add_annotation(self, ann: dict) -> None:
        """A COCO annotation (``id``, ``image_id``, ``category_id``,
        ``segmentation``, ``area``, ``bbox``, ``iscrowd``)."""
        self.annotations[ann['id']] = ann

    def category_id(self, name: str) -> int:
        """The id of the category ``name`` (added, numbered from 1, if new)."""
        for category in self.categories:
            if category['name'] == name:
                return category['id']
        self.categories.append(dict(id=len(self.categories) + 1, name=name,
                                    supercategory=name))
        return self.categories[-1]['id']

    def add_expression(self, image_id: int, ann_ids: Sequence[int], text: str,
                       split: Optional[str], row_id: Optional[str], where: str,
                       problems: List[str]) -> None:
        """One expression of ``image_id`` referring to ``ann_ids`` (none: no
        target), with the input's ``split`` (or None). An expression with
        other than one target in a non-GRES conversion is a problem."""
        if not self.gres and len(ann_ids) != 1:
            what = 'no target' if not ann_ids else f'{len(ann_ids)} targets'
            problems.append(f'{where}: the expression has {what}; without --gres each '
                            'expression refers to exactly one object')
            return
        key = (image_id, tuple(sorted(set(ann_ids))))
        self.groups.setdefault(key, []).append((text, split, row_id, where))

    # ------------------------------------------------------------- splits
    def _splits(self, ratios: Dict[str, float], seed: int) -> Dict[int, str]:
        """The split of each image: the input's (every expression must give
        one, those of an image the same), else :func:`assign_splits`."""
        given = [(entry, image_id) for (image_id, _), entries in self.groups.items()
                 for entry in entries]
        with_split = [e for e in given if e[0][1] is not None]
        if not with_split:
            return assign_splits(sorted({i for _, i in given}), ratios, seed)
        problems = [f'{entry[3]}: no "split", while other rows give one (e.g. '
                    f'{with_split[0][0][3]})' for entry, _ in given if entry[1] is None]
        splits, first = {}, {}
        for (_, split, _, where), image_id in with_split:
            if image_id not in splits:
                splits[image_id], first[image_id] = split, where
            elif splits[image_id] != split:
                problems.append(
                    f'{where}: split {split!r}, but {first[image_id]} puts the same '
                    f'image ({self.images[image_id]["file_name"]}) in '
                    f'{splits[image_id]!r}; splits are by image')
        if problems:
            raise ConversionError(describe_problems(problems))
        return splits

    def refs(self, ratios: Dict[str, float], seed: int) -> List[dict]:
        """The numbered refs (sentences numbered in the same order)."""
        splits = self._splits(ratios, seed)
        refs, sent_id = [], 0
        for (image_id, ann_ids), entries in sorted(self.groups.items()):
            sentences = []
            for text, _, row_id, _ in entries:
                sent_id += 1
                sentence = _sentence(sent_id, text)
                if row_id is not None:
                    sentence['row_id'] = row_id
                sentences.append(sentence)
            categories = [self.annotations[a]['category_id'] for a in ann_ids]
            ref = dict(ref_id=len(refs) + 1, image_id=image_id, split=splits[image_id],
                       sent_ids=[s['sent_id'] for s in sentences], sentences=sentences)
            if self.gres:
                ref.update(ann_id=list(ann_ids) or [-1], category_id=categories,
                           no_target=not ann_ids)
            else:
                ref.update(ann_id=ann_ids[0], category_id=categories[0])
            refs.append(ref)
        return refs

    # -------------------------------------------------------------- write
    def write(self, out_dir: str, folder: str = 'refcoco', split_by: str = 'unc',
              ratios: Optional[Dict[str, float]] = None, seed: int = 0,
              images: str = 'copy', overwrite: bool = False,
              check: Optional[Callable[[str], List[str]]] = None) -> dict:
        """Write the dataset to ``out_dir`` (see the module).

        Args:
            out_dir (str): The output folder (must not exist, unless
                ``overwrite``).
            folder (str): Annotation folder under ``out_dir``.
            split_by (str): The refs file's ``<split_by>``.
            ratios (dict, optional): Split ratios for an input without
                splits; defaults to :data:`DEFAULT_SPLIT_RATIOS`.
            seed (int): Seed of the split draw.
            images (str): ``'copy'``, ``'symlink'`` (to the source's real
                path) or ``'hardlink'``.
            overwrite (bool): Replace an existing ``out_dir``.
            check (Callable, optional): Run on the written folder before it
                is renamed into place; returns problems, which stop the
                conversion (nothing is left).

        Returns:
            dict: ``out_dir``, the files, the numbers of images,
            annotations, refs and expressions, and :func:`split_counts`.
        """
        if images not in IMAGE_MODES:
            raise ValueError(f'images must be one of {IMAGE_MODES}, got {images!r}')
        if not self.groups:
            raise ConversionError(f'{self.source}: no expression to convert')
        refs = self.refs(dict(ratios or DEFAULT_SPLIT_RATIOS), seed)
        used = sorted({ref['image_id'] for ref in refs})
        used_set = set(used)
        anns = [a for _, a in sorted(self.annotations.items()) if a['image_id'] in used_set]
        counts = split_counts(refs)
        names = Counter(self.images[i]['file_name'] for i in used)
        clashes = [name for name, n in names.items() if n > 1]
        if clashes:
            raise ConversionError(f'{self.source}: several images would be written as '
                                  f'{clashes[:5]}')
        with atomic_directory(out_dir, overwrite) as tmp:
            for image_id in used:
                _place_image(self.image_sources[image_id], osp.join(
                    tmp, 'images', self.images[image_id]['file_name']), images)
            ann_dir = osp.join(tmp, folder)
            os.makedirs(ann_dir)
            with open(osp.join(ann_dir, 'instances.json'), 'w', encoding='utf-8') as f:
                json.dump(dict(images=[self.images[i] for i in used], annotations=anns,
                               categories=self.categories,
                               info=dict(description=f'converted from {self.source}')), f)
            refs_name = refs_file_name(split_by, self.gres)
            if self.gres:
                with open(osp.join(ann_dir, refs_name), 'w', encoding='utf-8') as f:
                    json.dump(refs, f)
            else:
                with open(osp.join(ann_dir, refs_name), 'wb') as f:
                    pickle.dump(refs, f, protocol=2)
            write_counts_manifest(ann_dir, {split_by: counts}, self.source)
            problems = check(tmp) if check is not None else []
            if problems:
                raise ConversionError('the data check of the converted folder failed; '
                                      'nothing was written:\n' + describe_problems(problems))
        return dict(out_dir=out_dir, ann_file=osp.join(out_dir, folder, 'instances.json'),
                    refs_file=osp.join(out_dir, folder, refs_name), num_images=len(used),
                    num_annotations=len(anns), num_refs=len(refs),
                    num_expressions=sum(len(r['sentences']) for r in refs), splits=counts)
