"""Segment many (image, expression) rows; stop it any time and run it again
to finish.

    python demo/batch_demo.py ROWS.jsonl CONFIG CHECKPOINT --out-dir OUT \
        [--image-dir DIR] [--device cpu] [--threshold 0.35] [--fp16|--bf16] \
        [--max-pixels N]
    python demo/batch_demo.py IMAGE_FOLDER CONFIG CHECKPOINT --out-dir OUT \
        -e "the red circle" [-e "another expression" ...]

ROWS: a JSON Lines or CSV file (``*.csv``, with a header) whose rows have
``image`` (under ``--image-dir``, default the file's folder), ``expression``
and an optional unique ``id``; or a folder, whose every image is segmented
with every ``-e`` expression. Writes one mask PNG per row (``OUT/masks/
000001.png``, 0 / 255) and ``OUT/results.json`` with each row's COCO RLE,
box, score, AFS layers and, for a GRES model, instances
(:mod:`asda.apis.batch` gives the format). A progress bar on a terminal shows the rows.
Both are written atomically: after a kill, the same command skips the rows
already in results.json and does the rest. Every image's header is read
before the model is built (a missing image, or one of more than
``--max-pixels`` pixels, stops it there); an image whose data fails later
stops the run at its row, named, with the rows before it saved.
"""
import argparse
import os.path as osp
import sys

from asda.apis import RISInferencer
from asda.apis.batch import check_row_images, file_rows, folder_rows, run_batch
from asda.apis.image_io import DEFAULT_MAX_PIXELS
from asda.datasets.converters import ConversionError
from asda.utils.arg_types import add_inference_args, positive_int


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Referring segmentation of many (image, expression) rows, resumable')
    parser.add_argument('input', help='a CSV / JSON Lines file of rows (image, expression), '
                        'or a folder of images (with -e)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', required=True,
                        help='where masks/ and results.json go (rerun with the same one '
                        'to resume)')
    parser.add_argument('--image-dir', help='folder of the rows\' images (default: the rows '
                        'file\'s folder)')
    parser.add_argument('-e', '--expression', action='append', default=[],
                        help='with a folder: an expression for every image (repeatable)')
    parser.add_argument('--save-every', type=positive_int, default=10,
                        help='rows between two writes of results.json (default 10)')
    add_inference_args(parser, DEFAULT_MAX_PIXELS)
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if osp.isdir(args.input):
            rows = folder_rows(args.input, args.expression)
        else:
            if args.expression:
                raise ValueError('-e/--expression is for a folder of images; a rows file '
                                 'gives its own expressions')
            rows = file_rows(args.input, args.image_dir)
        check_row_images(rows, args.max_pixels)
    except (ConversionError, FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    inferencer = RISInferencer(args.config, args.checkpoint, device=args.device,
                               dtype=args.dtype, max_pixels=args.max_pixels)
    if args.threshold is not None:
        inferencer.model.decode_head.threshold = args.threshold
    meta = dict(config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
                threshold=inferencer.threshold, dtype=args.dtype)
    try:
        summary = run_batch(inferencer, rows, args.out_dir, meta, save_every=args.save_every)
    except ValueError as err:  # an earlier run's results that do not fit
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'{summary["done"]} row(s) segmented, {summary["skipped"]} already done: '
          f'{summary["results_file"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
