"""labelme JSON files -> a referring dataset in the refer format.

::

    python tools/dataset_converters/labelme_to_refer.py LABELME_DIR OUT_DIR \\
        [--expression-field description|label] [--gres] \\
        [--split-ratios train=0.8 val=0.1 test=0.1] [--seed 0] \\
        [--images copy|symlink|hardlink] [--folder refcoco] [--split-by unc]

Every ``*.json`` under LABELME_DIR is a labelme file whose image lies beside
it (``imagePath``). Polygons, rectangles and circles are the objects (one
per ``group_id``); the expressions are the lines of each shape's
``description`` (default), or its ``label`` (``--expression-field label``).
With ``--gres`` an expression given to several objects of an image refers to
all of them. Splits are drawn by image. The format and the checks:
:mod:`asda.datasets.converters.labelme`; step by step: docs/custom_data.md.

Writes OUT_DIR in the refer layout, checked, and prints the counts
(:func:`asda.datasets.converters.cli.run`); bad input stops it with every
problem listed (file and shape), nothing written.
"""
import argparse
import sys

from asda.datasets.converters import labelme_builder
from asda.datasets.converters.cli import converter_parser, run
from asda.datasets.converters.labelme import EXPRESSION_FIELDS


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = converter_parser('labelme JSON files -> refer format',
                              [('labelme_dir', 'folder of labelme *.json files and images')])
    parser.add_argument('--expression-field', choices=EXPRESSION_FIELDS,
                        default='description',
                        help="where a shape's expressions are: the lines of its "
                        'description (default; its label is the category) or its label')
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run(lambda: labelme_builder(args.labelme_dir, gres=args.gres,
                                       expression_field=args.expression_field), args)


if __name__ == '__main__':
    sys.exit(main())
