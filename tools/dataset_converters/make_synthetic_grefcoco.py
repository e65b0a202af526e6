"""Write a small synthetic gRefCOCO (generalized referring) dataset.

The command-line front of
:func:`asda.synthetic.gres.make_synthetic_grefcoco` (see that module
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

from asda.synthetic.gres import make_synthetic_grefcoco
from asda.synthetic.writing import add_generator_arguments, generator_kwargs

__all__ = ['build_parser', 'main', 'parse_args']


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_generator_arguments(parser, 'data/synthetic_gres')
    parser.add_argument('--multi-share', type=float, default=0.25,
                        help='share of multi-target expressions per split')
    parser.add_argument('--no-target-share', type=float, default=0.22,
                        help='share of no-target expressions per split')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None):
    return build_parser().parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    summary = make_synthetic_grefcoco(
        args.out_dir, multi_share=args.multi_share,
        no_target_share=args.no_target_share, **generator_kwargs(args))
    print(f'wrote {summary["num_images"]} images, {summary["num_refs"]} grefs,'
          f' {summary["num_sentences"]} expressions to {args.out_dir}')
    for split, stats in summary['splits'].items():
        print(f'  {split}: {stats["refs"]} grefs / {stats["sentences"]} sents,'
              f' shares {json.dumps(summary["shares"][split])}')
    return summary


if __name__ == '__main__':
    main()
