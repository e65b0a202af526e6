"""The data check of a RefCOCO-family folder: the one implementation, which
``tools/dataset_converters/check_refer_data.py`` runs from the command line
and the dataset converters run on what they write.

For each dataset (RefCOCO unc and google, RefCOCO+ unc, G-Ref umd and google;
gRefCOCO, or any folder holding grefs when ``gres`` says so) it checks that
``<name>/instances.json`` and ``<name>/refs(<by>).p`` (gRefCOCO:
``grefs(<by>).json`` or ``.p``) exist and load; that both follow the rules
the datasets load them by (:mod:`asda.datasets.refs_io` for the files,
``RefCOCODataset.ref_problems`` / ``GRefCOCODataset.ref_problems`` for each
ref's targets, their segmentations, image and categories: the checker asks
the same functions, so it passes exactly what the dataset loads); counts
refs, expressions and images per split and compares them with the expected
counts; and checks every image the refs use (it exists, is whole and has the
size ``instances.json`` gives: the pre-flight check of the training and test
tools, :func:`asda.datasets.check_images`), in parallel, with a progress bar
on a terminal (:mod:`asda.utils.progress`). :func:`check` prints one table
and returns every problem. Notes (refs without sentences, which give no
sample; pickle strings that are not UTF-8, decoded as Latin-1) are printed
after the table and are no problem, as the datasets load such files with a
warning.

Expected counts: a ``counts.json`` beside the refs files (written by
``make_synthetic_refcoco.py`` and the converters) when there is one,
otherwise the published counts below, each with its source. A count no
source gives is shown as ``-`` and not compared.
"""
import json
import os.path as osp
import warnings
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from ..utils.progress import progress_bar, track
from .grefcoco import GRefCOCODataset
from .image_check import check_images
from .refcoco import RefCOCODataset
from .refs_io import (
    RefsEncodingWarning,
    index_instances,
    read_json,
    read_refs,
    ref_problems,
    refs_problems,
    refs_with_sentences,
)

__all__ = ['DATASETS', 'GREF_DATASETS', 'PUBLISHED', 'check', 'is_gres', 'load_dataset',
           'split_file', 'UnknownDatasetError', 'parse_dataset']

#: The datasets the refer release ships: name -> split files.
DATASETS = {
    'refcoco': ('unc', 'google'),
    'refcoco+': ('unc',),
    'refcocog': ('umd', 'google'),
}
#: Checked when named (``--dataset grefcoco``): gRefCOCO's grefs file.
GREF_DATASETS = {'grefcoco': ('unc',)}


def is_gres(name: str, gres: Optional[bool] = None) -> bool:
    """Whether the dataset ``name`` holds grefs: ``gres`` when given (a
    converted folder of any name, ``--gres``), else whether it is one of
    :data:`GREF_DATASETS`."""
    return name in GREF_DATASETS if gres is None else gres


def split_file(folder: str, name: str, split_by: str, gres: Optional[bool] = None) -> str:
    """The refs file of a dataset: ``refs(<by>).p``, or for gRefCOCO
    (:func:`is_gres`) ``grefs(<by>).json`` (else the ``.p`` pickle when only
    that exists)."""
    if not is_gres(name, gres):
        return osp.join(folder, f'refs({split_by}).p')
    path = osp.join(folder, f'grefs({split_by}).json')
    pickled = osp.join(folder, f'grefs({split_by}).p')
    return pickled if not osp.isfile(path) and osp.isfile(pickled) else path


#: Where each published count comes from.
SOURCES = {
    'tfds': 'TensorFlow Datasets catalog, ref_coco, "Stats for each dataset '
            'and split" (refs and images per split); '
            'https://www.tensorflow.org/datasets/catalog/ref_coco',
    'tfds-gref': 'TensorFlow Datasets catalog, gref (Google RefExp = the '
                 'refcocog google split): images per split; '
                 'https://www.tensorflow.org/datasets/catalog/gref',
    'hf-refcoco': 'Hugging Face dataset card jxu124/refcoco (refs per split '
                  'of refs(unc).p; its "test" split is testA)',
    'hf-refcocoplus': 'Hugging Face dataset card jxu124/refcocoplus (refs per '
                      'split of refcoco+ refs(unc).p; its "test" is testA)',
    'hf-refcocog': 'Hugging Face dataset card jxu124/refcocog (refs per split '
                   'of refcocog refs(umd).p)',
    'hf-benchmark': 'Hugging Face dataset jxu124/refcoco-benchmark, rows per '
                    'split (one row per image)',
    'flageval': 'FlagEval, RefCOCO visual grounding dataset page (expressions '
                'per split of refcoco unc); '
                'https://flageval.baai.ac.cn/docs/en/multimodal/Visual-Grounding/'
                'RefCOCO_RefCOCO+_RefCOCOg-Visual_Grounding.html',
}


def _c(value: int, source: str) -> Tuple[int, str]:
    return (value, source)


#: Published counts: (dataset, split file) -> split -> {kind: (count,
#: source key)}. Only counts found in a source are listed.
PUBLISHED: Dict[Tuple[str, str], Dict[str, Dict[str, Tuple[int, str]]]] = {
    ('refcoco', 'unc'): {
        'train': dict(refs=_c(42404, 'tfds'), expressions=_c(120624, 'flageval'),
                      images=_c(16994, 'tfds')),
        'val': dict(refs=_c(3811, 'tfds'), expressions=_c(10834, 'flageval'),
                    images=_c(1500, 'tfds')),
        'testA': dict(refs=_c(1975, 'hf-refcoco'),
                      expressions=_c(5657, 'flageval'),
                      images=_c(750, 'hf-benchmark')),
        'testB': dict(refs=_c(1810, 'hf-refcoco'),
                      expressions=_c(5095, 'flageval'),
                      images=_c(750, 'hf-benchmark')),
    },
    ('refcoco', 'google'): {
        'train': dict(refs=_c(40000, 'tfds'), images=_c(19213, 'tfds')),
        'val': dict(refs=_c(5000, 'tfds'), images=_c(4559, 'tfds')),
        'test': dict(refs=_c(5000, 'tfds'), images=_c(4527, 'tfds')),
    },
    ('refcoco+', 'unc'): {
        'train': dict(refs=_c(42278, 'hf-refcocoplus')),
        'val': dict(refs=_c(3805, 'hf-refcocoplus')),
        'testA': dict(refs=_c(1975, 'hf-refcocoplus'),
                      images=_c(750, 'hf-benchmark')),
        'testB': dict(refs=_c(1798, 'hf-refcocoplus'),
                      images=_c(750, 'hf-benchmark')),
    },
    ('refcocog', 'umd'): {
        'train': dict(refs=_c(42226, 'hf-refcocog')),
        'val': dict(refs=_c(2573, 'hf-refcocog')),
        'test': dict(refs=_c(5023, 'hf-refcocog')),
    },
    ('refcocog', 'google'): {
        'train': dict(images=_c(24698, 'tfds-gref')),
        'val': dict(images=_c(4650, 'tfds-gref')),
    },
}

KINDS = ('refs', 'expressions', 'images')
MANIFEST = 'counts.json'


class UnknownDatasetError(ValueError):
    """A dataset name without ``:SPLIT_BY`` that is none of the known ones."""


def parse_dataset(text: str) -> List[Tuple[str, str]]:
    """``refcoco`` (every split file of it) or ``NAME:SPLIT_BY``.

    Raises:
        UnknownDatasetError: a name without ``:SPLIT_BY`` that is not known.
    """
    name, _, split_by = text.partition(':')
    if split_by:
        return [(name, split_by)]
    known = {**DATASETS, **GREF_DATASETS}
    if name not in known:
        raise UnknownDatasetError(
            f'unknown dataset {name!r}: use one of {sorted(known)} or '
            f'NAME:SPLIT_BY (e.g. refcoco:unc)')
    return [(name, by) for by in known[name]]


def expected_counts(folder: str, name: str, split_by: str, problems: List[str]):
    """Expected counts per split and where they come from: the folder's
    counts.json if any, else :data:`PUBLISHED` (None: nothing known)."""
    manifest = osp.join(folder, MANIFEST)
    if osp.isfile(manifest):
        try:
            with open(manifest, encoding='utf-8') as f:
                counts = json.load(f)['counts']
        except (ValueError, KeyError, OSError) as err:
            problems.append(f'{manifest}: unreadable counts manifest ({err})')
            return None
        if split_by not in counts:
            return None
        return {split: {k: (v, manifest) for k, v in kinds.items() if k in KINDS}
                for split, kinds in counts[split_by].items()}
    published = PUBLISHED.get((name, split_by))
    if published is None:
        return None
    return {split: {k: (v, SOURCES[src]) for k, (v, src) in kinds.items()}
            for split, kinds in published.items()}


def _read_instances(ann_file: str, allow_outside_paths: bool, problems: List[str]):
    try:
        coco = read_json(ann_file)
    except ValueError as err:
        problems.append(str(err))
        return None
    instances, found = index_instances(coco, ann_file, allow_outside_paths)
    problems += found
    return instances


def load_dataset(data_root: str, img_dir: str, name: str, split_by: str,
                 problems: List[str], notes: List[str],
                 allow_outside_paths: bool = False, gres: Optional[bool] = None,
                 skip_invalid_polygons: bool = False,
                 sizes: Optional[Dict[str, Tuple[int, int]]] = None):
    """Load one split file; return per-split counts and the images each
    split uses (``{split: {path: refs}}``), or None if it cannot be read.
    Every rule a dataset would raise on is added to ``problems``; a ref that
    breaks one is left out of the counts. Refs without sentences, which the
    datasets skip, count as refs and are listed in ``notes``, and so are
    strings of a pickle that are not UTF-8 (decoded as Latin-1, with the
    datasets' warning). ``gres``: see :func:`is_gres`;
    ``skip_invalid_polygons``: the datasets' option; ``sizes`` gains the
    annotated (height, width) of each image used."""
    folder = osp.join(data_root, name)
    ann_file = osp.join(folder, 'instances.json')
    refs_file = split_file(folder, name, split_by, gres)
    missing = [p for p in (ann_file, refs_file) if not osp.isfile(p)]
    for path in missing:
        problems.append(f'{path}: missing')
    if missing:
        return None
    instances = _read_instances(ann_file, allow_outside_paths, problems)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', RefsEncodingWarning)
            refs = read_refs(refs_file)
    except Exception as err:  # noqa: BLE001 (any load error is the finding)
        problems.append(f'{refs_file}: cannot be loaded ({err})')
        return None
    for warning in caught:  # the datasets warn the same way
        if issubclass(warning.category, RefsEncodingWarning):
            notes.append(str(warning.message))
        else:
            warnings.warn_explicit(warning.message, warning.category,
                                   warning.filename, warning.lineno)
    problems += refs_problems(refs, refs_file)
    if instances is None or not isinstance(refs, list):
        return None
    dataset = GRefCOCODataset if is_gres(name, gres) else RefCOCODataset
    return _count_refs(refs, refs_file, dataset, instances, osp.join(data_root, img_dir),
                       f'{name} ({split_by})', problems, notes, skip_invalid_polygons,
                       sizes)


def _count_refs(refs: list, refs_file: str, dataset, instances, image_dir: str,
                label: str, problems: List[str], notes: List[str],
                skip_invalid_polygons: bool = False,
                sizes: Optional[Dict[str, Tuple[int, int]]] = None):
    """Counts per split (``refs``, ``expressions``, ``images``, and ``bad
    refs``: those that break a rule) and the images each split uses; the
    rules are the dataset class's (``dataset.ref_problems``)."""
    counts: Dict[str, Counter] = defaultdict(Counter)
    split_images: Dict[str, Dict[str, int]] = defaultdict(Counter)
    valid = []
    for i, ref in enumerate(refs):
        if not ref_problems(ref, refs_file, i):  # listed by refs_problems
            valid.append(ref)
        elif isinstance(ref, dict) and isinstance(ref.get('split'), str):
            counts[ref['split']]['bad refs'] += 1
    refs, empty = refs_with_sentences(valid)
    for split in sorted({ref['split'] for ref in empty}):
        ids = [ref['ref_id'] for ref in empty if ref['split'] == split]
        counts[split]['refs'] += len(ids)
        notes.append(f'{label} split {split!r}: {len(ids)} ref(s) without sentences give '
                     f'no sample (skipped, as the datasets do): ref_id {ids[:20]}')
    for ref in refs:
        split = ref['split']
        found = dataset.ref_problems(ref, instances, refs_file, skip_invalid_polygons)
        problems += found
        if found:
            counts[split]['bad refs'] += 1
            continue
        counts[split]['refs'] += 1
        counts[split]['expressions'] += len(ref['sentences'])
        img = instances.images[ref['image_id']]
        path = osp.join(image_dir, img['file_name'])
        split_images[split][path] += 1
        if sizes is not None:
            sizes[path] = (img['height'], img['width'])
    for split, paths in split_images.items():
        counts[split]['images'] = len(paths)
    return counts, split_images


def _fmt(found: int, expected: Optional[Tuple[int, str]]) -> str:
    if expected is None:
        return f'{found} / -'
    return f'{found} / {expected[0]}'


def print_table(rows: List[List[str]]) -> None:
    header = ['dataset', 'split', 'refs (found / expected)',
              'expressions (found / expected)', 'images (found / expected)',
              'bad images', 'status']
    widths = [max(len(str(r[i])) for r in rows + [header])
              for i in range(len(header))]
    line = ' | '.join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print('-+-'.join('-' * w for w in widths))
    for row in rows:
        print(' | '.join(str(c).ljust(w) for c, w in zip(row, widths)))


def check(data_root: str, datasets: Sequence[Tuple[str, str]],
          img_dir: str = 'train2014', num_workers: Optional[int] = None,
          image_check: bool = True, allow_outside_paths: bool = False,
          gres: Optional[bool] = None, skip_invalid_polygons: bool = False) -> List[str]:
    """Run every check; print the table; return the problems. ``gres``: the
    datasets hold grefs (True) or refs (False); None: by name
    (:func:`is_gres`). ``skip_invalid_polygons``: polygon parts with fewer
    than 3 points are no problem (the datasets' option drops them)."""
    problems: List[str] = []
    notes: List[str] = []
    sizes: Dict[str, Tuple[int, int]] = {}
    loaded = []
    for name, split_by in track(datasets, 'reading the refer files'):
        result = load_dataset(data_root, img_dir, name, split_by, problems, notes,
                              allow_outside_paths, gres, skip_invalid_polygons, sizes)
        expected = expected_counts(osp.join(data_root, name), name, split_by,
                                   problems)
        loaded.append((name, split_by, result, expected))

    bad: Dict[str, str] = {}
    if image_check:
        paths = {p for _, _, result, _ in loaded if result is not None
                 for images in result[1].values() for p in images}

        bar = None

        def progress(done, total):
            nonlocal bar
            if bar is None:
                bar = progress_bar(total, f'checking {total} images')
            bar.update(done - bar.done)
            if done == total:
                bar.close()

        bad = check_images(paths, num_workers=num_workers, progress=progress,
                           sizes=sizes)
        for path, problem in sorted(bad.items()):
            users = [f'{n} {b} {s}' for n, b, result, _ in loaded
                     if result is not None
                     for s, images in result[1].items() if path in images]
            problems.append(f'{path}: {problem} (used by {", ".join(users)})')

    rows = []
    for name, split_by, result, expected in loaded:
        label = f'{name} ({split_by})'
        if result is None:
            rows.append([label, '-', '-', '-', '-', '-', 'cannot be read'])
            continue
        counts, split_images = result
        splits = list(expected or {}) + sorted(set(counts) - set(expected or {}))
        for split in splits:
            found = counts.get(split, Counter())
            want = (expected or {}).get(split, {})
            status = []
            if expected is not None and split not in expected:
                status.append('unexpected split')
                problems.append(f'{label} split {split!r}: not among the '
                                f'expected splits {sorted(expected)}')
            for kind in KINDS:
                if kind in want and found[kind] != want[kind][0]:
                    status.append(f'{kind} differ')
                    problems.append(
                        f'{label} split {split!r}: {found[kind]} {kind}, '
                        f'expected {want[kind][0]} (source: {want[kind][1]})')
            if found['bad refs']:
                status.append(f'{found["bad refs"]} bad ref(s)')
            n_bad = sum(1 for p in split_images.get(split, ()) if p in bad)
            if n_bad:
                status.append('bad images')
            rows.append([label, split] + [_fmt(found[k], want.get(k)) for k in KINDS]
                        + [n_bad if image_check else 'not checked',
                           ', '.join(status) or 'ok'])
    print_table(rows)
    for note in notes:
        print(f'note: {note}')
    return problems
