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

Writes OUT_DIR in the refer layout, checked, and prints the counts
(:func:`asda.datasets.converters.cli.run`); bad input stops it with every
problem listed (file and line), nothing written.
"""
import argparse
import sys

from asda.datasets.converters import masks_builder
from asda.datasets.converters.cli import converter_parser, run


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    return converter_parser(
        'Mask PNGs + expressions (JSON Lines or CSV) -> refer format',
        [('expressions', 'expression rows (JSON Lines, or CSV)'),
         ('image_dir', 'folder of the images the rows name'),
         ('mask_dir', 'folder of the mask PNGs the rows name')])


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run(lambda: masks_builder(args.expressions, args.image_dir, args.mask_dir,
                                     gres=args.gres), args)


if __name__ == '__main__':
    sys.exit(main())
