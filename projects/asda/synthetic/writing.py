"""What the two dataset generators (:mod:`asda.synthetic.refer`,
:mod:`asda.synthetic.gres`) share: their command-line options, the split
sizes, and a :class:`DatasetWriter` that sets up the seeded random streams and
the output folder and writes the images, the COCO annotations, the sentence
records and the counts manifest.

A generator's output depends only on its seed and arguments: every random
draw comes from the writer's two streams, in the same order.
"""
import json
import os
import os.path as osp
import random
from typing import Dict, Iterable, List, Optional

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..utils.progress import progress_bar
from .scenes import CATEGORIES, CATEGORY_IDS, MAX_OBJECTS, paint_scene

__all__ = ['UNC_SPLITS', 'DEFAULT_SPLIT_SIZES', 'resolve_split_sizes',
           'DatasetWriter', 'annotate_objects', 'sentence_record',
           'split_counts', 'write_counts_manifest', 'add_generator_arguments',
           'generator_kwargs']

UNC_SPLITS = ('train', 'val', 'testA', 'testB')
#: Default numbers of images per unc split.
DEFAULT_SPLIT_SIZES = dict(train=400, val=50, testA=50, testB=50)


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


def _encode_rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask))
    return dict(size=[int(v) for v in rle['size']],
                counts=rle['counts'].decode('ascii'))


def annotate_objects(objs: List[dict], image_id: int, first_ann_id: int,
                     rng: random.Random, rle_prob: float) -> List[dict]:
    """COCO annotations of rasterized objects (ids from ``first_ann_id``
    on), each stored as polygons or, with probability ``rle_prob``,
    compressed RLE."""
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
            category_id=CATEGORY_IDS[o['shape']], segmentation=seg,
            area=float(o['area']), bbox=bbox, iscrowd=0))
    return anns


def sentence_record(sent_id: int, text: str, kind: str,
                    rng: random.Random) -> dict:
    """The refs' sentence dict of expression ``text`` (its ``raw`` form
    capitalised with probability 0.5)."""
    raw = text[0].upper() + text[1:] if rng.random() < 0.5 else text
    return dict(sent_id=sent_id, sent=text, raw=raw, tokens=text.split(),
                kind=kind)


def split_counts(refs: Iterable[dict]) -> Dict[str, int]:
    """The numbers of images, refs and sentences of a split's refs."""
    refs = list(refs)
    return dict(images=len({r['image_id'] for r in refs}), refs=len(refs),
                sentences=sum(len(r['sentences']) for r in refs))


def write_counts_manifest(ann_dir: str, splits: Dict[str, dict], source: str,
                          **extra) -> str:
    """Write ``counts.json`` beside the refs: per split file and split, the
    numbers of refs, expressions and images (``splits``: per split file and
    split, :func:`split_counts`), which
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


class DatasetWriter:
    """The set-up and the image steps of a generator run.

    Checks the arguments, then creates ``out_dir/images`` and
    ``out_dir/<ann_subdir>``; :meth:`add_image` writes one scene's image and
    annotations, :meth:`write_instances` the ``instances.json`` of all.

    Args:
        out_dir (str): Output folder.
        ann_subdir (str): Folder of the annotations, under ``out_dir``.
        seed (int): Seed of both random streams (``rng``, ``nprng``).
        num_images, split_sizes: Images per split
            (:func:`resolve_split_sizes`).
        min_size, max_size (int): Range of the image sides (>= 48).
        max_objects (int): Objects per image (2..max_objects).
        rle_prob (float): Share of annotations stored as compressed RLE.
        jpeg_quality (int): JPEG quality.

    Raises:
        ValueError: bad split sizes or image sides, before anything is
            written.
    """

    def __init__(self, out_dir: str, ann_subdir: str, seed: int,
                 num_images: Optional[int], split_sizes: Optional[Dict[str, int]],
                 min_size: int, max_size: int, max_objects: int,
                 rle_prob: float, jpeg_quality: int):
        self.split_sizes = resolve_split_sizes(num_images, split_sizes)
        if min_size > max_size or min_size < 48:
            raise ValueError('need 48 <= min_size <= max_size')
        self.seed = seed
        self.rng = random.Random(seed)
        self.nprng = np.random.default_rng(seed)
        #: Arguments of :func:`asda.synthetic.scenes.draw_layout`.
        self.scene_kw = dict(min_size=min_size, max_size=max_size,
                             max_objects=max_objects)
        self.rle_prob = rle_prob
        self.jpeg_quality = jpeg_quality
        self.out_dir = out_dir
        self.img_dir = osp.join(out_dir, 'images')
        self.ann_dir = osp.join(out_dir, ann_subdir)
        os.makedirs(self.img_dir, exist_ok=True)
        os.makedirs(self.ann_dir, exist_ok=True)
        self.images: List[dict] = []
        self.annotations: List[dict] = []
        total = sum(self.split_sizes.values())
        #: One step per image written (drawn on a terminal only).
        self.progress = progress_bar(total, f'writing {total} images to {out_dir}')

    def add_image(self, objs: List[dict], w: int, h: int) -> tuple:
        """Paint the rasterized objects, write ``synth_<image id>.jpg`` and
        annotate them.

        Returns:
            tuple: the image id and the objects' annotations.
        """
        image_id = len(self.images) + 1
        file_name = f'synth_{image_id:06d}.jpg'
        img = paint_scene(objs, w, h, self.rng, self.nprng)
        cv2.imwrite(osp.join(self.img_dir, file_name), img,
                    [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        self.images.append(dict(id=image_id, file_name=file_name, height=h,
                                width=w))
        anns = annotate_objects(objs, image_id, len(self.annotations) + 1,
                                self.rng, self.rle_prob)
        self.annotations += anns
        self.progress.update()
        return image_id, anns

    def write_instances(self, description: str, **info) -> str:
        """Write ``instances.json`` (images, annotations, categories and an
        ``info`` of ``description``, the seed and ``info``); returns its
        path."""
        self.progress.close()
        path = osp.join(self.ann_dir, 'instances.json')
        with open(path, 'w') as f:
            json.dump(dict(images=self.images, annotations=self.annotations,
                           categories=CATEGORIES,
                           info=dict(description=description, seed=self.seed,
                                     **info)), f)
        return path


# ------------------------------------------------------------ command line
def add_generator_arguments(parser, out_dir: str) -> None:
    """The command-line options the synthetic generators share (output,
    seed, split sizes, scenes, expression mix): the one list, for
    ``make_synthetic_refcoco.py`` and ``make_synthetic_grefcoco.py``."""
    parser.add_argument('--out-dir', default=out_dir,
                        help=f'output folder (default {out_dir})')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed: the same seed and options give the same files')
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
    parser.add_argument('--max-objects', type=int, default=MAX_OBJECTS,
                        help=f'objects per image: 2 to this (default {MAX_OBJECTS})')
    parser.add_argument('--max-refs-per-image', type=int, default=3,
                        help='referred objects per image: 2 to this (at most the objects)')
    parser.add_argument('--max-sents-per-ref', type=int, default=3,
                        help='expressions per referred object: 1 to this')
    parser.add_argument('--lr-prob', type=float, default=0.5,
                        help='chance that an object left / right tells apart gets a '
                        'left / right expression')
    parser.add_argument('--attr-prob', type=float, default=0.7,
                        help='chance that each further expression is colour / shape '
                        'words only, where they single the object out')
    parser.add_argument('--rle-prob', type=float, default=0.4,
                        help='share of annotations stored as compressed RLE (the '
                        'others as polygons)')


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
