"""Text-only control of the no-target decision on a gRefCOCO folder.

Logistic regression on the expressions' bag of words, trained on one split
(no-target vs target), scored on another by its balanced accuracy (see
:func:`asda.synthetic.probes.text_only_control`).

Usage::

    python tools/analysis_tools/text_only_control.py \\
        --data-root data/synthetic_gres --train-split train --eval-split val \\
        [--out control.json]
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from asda.datasets import load_refs
from asda.synthetic.probes import text_only_control_on_grefs
from asda.utils.atomic import write_json

__all__ = ['build_parser', 'main', 'parse_args']


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/synthetic_gres',
                        help='the gRefCOCO folder (default data/synthetic_gres)')
    parser.add_argument('--split-file', default='grefcoco/grefs(unc).json',
                        help='grefs file, relative to --data-root')
    parser.add_argument('--train-split', default='train',
                        help='split the classifier is trained on (default train)')
    parser.add_argument('--eval-split', default='val',
                        help='split it is scored on (default val)')
    parser.add_argument('--out', default=None,
                        help='write the result to this JSON file')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None):
    return build_parser().parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    path = osp.join(args.data_root, args.split_file)
    result = dict(text_only_control_on_grefs(
        load_refs(path), args.train_split, args.eval_split, source=path),
        grefs_file=path)
    print(f'text-only control ({path}): trained on {args.train_split} '
          f'{result["train_counts"]}, evaluated on {args.eval_split} '
          f'{result["counts"]}')
    print(f'  balanced accuracy {result["balanced_accuracy"]:.1f}%  '
          f'(recall no-target {result["recall_no_target"]:.1f}%, '
          f'target {result["recall_target"]:.1f}%)')
    if args.out:
        write_json(args.out, result)
    return result


if __name__ == '__main__':
    main()
