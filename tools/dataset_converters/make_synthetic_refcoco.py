"""Write a small synthetic referring-segmentation dataset in the refer format.

The command-line front of :func:`asda.synthetic.refer.make_synthetic_refcoco`
(see that module for the layout, the scenes and the splits).

Usage::

    python tools/dataset_converters/make_synthetic_refcoco.py \
        --out-dir data/synthetic --seed 0
"""
import argparse
from typing import Optional, Sequence

from asda.synthetic.refer import make_synthetic_refcoco
from asda.synthetic.writing import add_generator_arguments, generator_kwargs

__all__ = ['build_parser', 'main', 'parse_args']


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_generator_arguments(parser, 'data/synthetic')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None):
    return build_parser().parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    summary = make_synthetic_refcoco(args.out_dir, **generator_kwargs(args))
    print(f'wrote {summary["num_images"]} images, {summary["num_refs"]} refs,'
          f' {summary["num_sentences"]} expressions to {args.out_dir}')
    for split_by, stats in summary['splits'].items():
        line = ', '.join(f'{s}: {v["refs"]} refs / {v["sentences"]} sents'
                         for s, v in stats.items())
        print(f'  refs({split_by}).p  {line}')
    return summary


if __name__ == '__main__':
    main()
