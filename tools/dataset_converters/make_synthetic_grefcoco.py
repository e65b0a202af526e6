"""Write a small synthetic gRefCOCO (generalized referring) dataset.

The command-line front of
:func:`asda.datasets.synthetic_gres.make_synthetic_grefcoco` (see that module
for the layout, the expression forms and the splits). A sibling of
``make_synthetic_refcoco.py`` rather than a flag of it: its output folder,
files and options (the shares of the forms) are its own.

Usage::

    python tools/dataset_converters/make_synthetic_grefcoco.py \\
        --out-dir data/synthetic_gres --seed 0
"""
import argparse
import json
from typing import Optional, Sequence

from asda.datasets.synthetic import DEFAULT_SPLIT_SIZES, UNC_SPLITS
from asda.datasets.synthetic_gres import make_synthetic_grefcoco

__all__ = ['main', 'parse_args']


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='data/synthetic_gres')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-images', type=int, default=None,
                        help='total images, shared 8:1:1:1 by train/val/'
                        'testA/testB (overrides --num-train etc.)')
    for split, n in DEFAULT_SPLIT_SIZES.items():
        parser.add_argument(f'--num-{split}', type=int, default=n,
                            help=f'images in {split} (default {n})')
    parser.add_argument('--multi-share', type=float, default=0.25,
                        help='share of multi-target expressions per split')
    parser.add_argument('--no-target-share', type=float, default=0.22,
                        help='share of no-target expressions per split')
    parser.add_argument('--rle-prob', type=float, default=0.4)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    summary = make_synthetic_grefcoco(
        args.out_dir, seed=args.seed, num_images=args.num_images,
        split_sizes={s: getattr(args, f'num_{s}') for s in UNC_SPLITS},
        multi_share=args.multi_share, no_target_share=args.no_target_share,
        rle_prob=args.rle_prob)
    print(f'wrote {summary["num_images"]} images, {summary["num_refs"]} grefs,'
          f' {summary["num_sentences"]} expressions to {args.out_dir}')
    for split, stats in summary['splits'].items():
        print(f'  {split}: {stats["refs"]} grefs / {stats["sentences"]} sents,'
              f' shares {json.dumps(summary["shares"][split])}')
    return summary


if __name__ == '__main__':
    main()
