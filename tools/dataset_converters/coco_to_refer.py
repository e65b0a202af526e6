"""COCO instances + expressions -> a referring dataset in the refer format.

::

    python tools/dataset_converters/coco_to_refer.py INSTANCES_JSON EXPRESSIONS_JSONL \\
        IMAGE_DIR OUT_DIR [--gres] [--split-ratios train=0.8 val=0.1 test=0.1] \\
        [--seed 0] [--images copy|symlink|hardlink] [--folder refcoco] [--split-by unc]

INSTANCES_JSON: COCO instances (polygons or RLE) of the images in IMAGE_DIR.
Each row of EXPRESSIONS_JSONL (JSON Lines, or CSV with a header) names an
``image`` (its COCO ``file_name``; or ``image_id``), an ``expression`` and
its ``ann_id`` (``ann_ids``: a list, possibly empty, with ``--gres``).
Optional: ``split``, ``id``. The format and the checks:
:mod:`asda.datasets.converters.coco`; step by step: docs/custom_data.md.

Writes OUT_DIR in the refer layout, checked, and prints the counts
(:func:`asda.datasets.converters.cli.run`); bad input stops it with every
problem listed (file and line), nothing written.
"""
import argparse
import sys

from asda.datasets.converters import coco_builder
from asda.datasets.converters.cli import converter_parser, run


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    return converter_parser(
        'COCO instances + expressions (JSON Lines or CSV) -> refer format',
        [('instances', 'COCO instances JSON (polygons or RLE)'),
         ('expressions', 'expression rows (JSON Lines, or CSV)'),
         ('image_dir', 'folder of the COCO images (by file_name)')])


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run(lambda: coco_builder(args.instances, args.expressions, args.image_dir,
                                    gres=args.gres), args)


if __name__ == '__main__':
    sys.exit(main())
