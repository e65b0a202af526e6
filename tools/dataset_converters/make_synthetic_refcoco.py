"""Write a small synthetic referring-segmentation dataset in the refer format.

The command-line front of :func:`asda.datasets.synthetic.make_synthetic_refcoco`
(see that module for the layout, the scenes and the splits).

Usage::

    python tools/dataset_converters/make_synthetic_refcoco.py \
        --out-dir data/synthetic --seed 0
"""
import argparse
from typing import Optional, Sequence

from asda.datasets.synthetic import (
    DEFAULT_SPLIT_SIZES,
    UNC_SPLITS,
    make_synthetic_refcoco,
)

__all__ = ['main', 'parse_args']


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='data/synthetic')
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
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    summary = make_synthetic_refcoco(
        args.out_dir,
        num_images=args.num_images,
        split_sizes={s: getattr(args, f'num_{s}') for s in UNC_SPLITS},
        seed=args.seed,
        min_size=args.min_size,
        max_size=args.max_size,
        max_objects=args.max_objects,
        max_refs_per_image=args.max_refs_per_image,
        max_sents_per_ref=args.max_sents_per_ref,
        lr_prob=args.lr_prob,
        attr_prob=args.attr_prob,
        rle_prob=args.rle_prob)
    print(f'wrote {summary["num_images"]} images, {summary["num_refs"]} refs,'
          f' {summary["num_sentences"]} expressions to {args.out_dir}')
    for split_by, stats in summary['splits'].items():
        line = ', '.join(f'{s}: {v["refs"]} refs / {v["sentences"]} sents'
                         for s, v in stats.items())
        print(f'  refs({split_by}).p  {line}')
    return summary


if __name__ == '__main__':
    main()
