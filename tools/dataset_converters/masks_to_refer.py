"""Mask PNGs + expressions -> a referring dataset in the refer format.

::

    python tools/dataset_converters/masks_to_refer.py EXPRESSIONS_JSONL IMAGE_DIR \\
        MASK_DIR OUT_DIR [--gres] [--split-ratios train=0.8 val=0.1 test=0.1] \\
        [--seed 0] [--images copy|symlink|hardlink] [--folder refcoco] [--split-by unc]

Each row of EXPRESSIONS_JSONL (JSON Lines, or CSV with a header) names an
``image`` under IMAGE_DIR, an ``expression`` and its ``mask``: a binary PNG
under MASK_DIR, or an instance-id PNG with ``instance_id``; with ``--gres``
a list of masks (or ``instance_ids``), possibly empty (no target). Optional:
``split``, ``category``, ``id``. The format and the checks:
:mod:`asda.datasets.converters.masks`; step by step: docs/custom_data.md.

Writes OUT_DIR/images/, OUT_DIR/refcoco/instances.json and
OUT_DIR/refcoco/refs(unc).p (``--gres``: OUT_DIR/grefcoco/grefs(unc).json),
runs the data check (check_refer_data.py) on it, and prints the counts. Bad
input stops it with every problem listed (file and line) and nothing written.
"""
import argparse
import sys

from asda.datasets.converters import masks_builder
from asda.datasets.converters.cli import add_output_args, run


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Mask PNGs + expressions (JSON Lines or CSV) -> refer format')
    parser.add_argument('expressions', help='expression rows (JSON Lines, or CSV)')
    parser.add_argument('image_dir', help='folder of the images the rows name')
    parser.add_argument('mask_dir', help='folder of the mask PNGs the rows name')
    add_output_args(parser)
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run(lambda: masks_builder(args.expressions, args.image_dir, args.mask_dir,
                                     gres=args.gres), args)


if __name__ == '__main__':
    sys.exit(main())
