"""Check a RefCOCO-family data folder before a long run.

::

    python tools/dataset_converters/check_refer_data.py --data-root data/coco
    python tools/dataset_converters/check_refer_data.py --data-root data/coco \\
        --dataset refcoco:unc refcocog:umd

Datasets: by default RefCOCO unc and google, RefCOCO+ unc, G-Ref umd and
google; gRefCOCO when named (``--dataset grefcoco``), or any named folder with
``--gres``. What is checked (files, each ref by the rules the datasets load
it by, counts against ``counts.json`` or the published counts, every image
the refs use) is :func:`asda.datasets.refer_check.check`, which the dataset
converters (``*_to_refer.py``) also run on what they write. It prints one
table and exits with status 1 and the list of every problem if there is any.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from asda.datasets.refer_check import DATASETS, UnknownDatasetError, check, parse_dataset


def dataset_arg(text: str):
    """``--dataset`` values (:func:`asda.datasets.refer_check.parse_dataset`)."""
    try:
        return parse_dataset(text)
    except UnknownDatasetError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Check a RefCOCO-family data folder: files, counts per '
        'split against the published ones, every image')
    parser.add_argument('--data-root', default='data/coco',
                        help='folder holding train2014/ and refcoco*/')
    parser.add_argument(
        '--dataset', nargs='+', type=dataset_arg, default=None,
        help='refcoco, refcoco+, refcocog, grefcoco (every split file) or '
        'NAME:SPLIT_BY (e.g. refcoco:unc refcocog:umd); default: the five of '
        'the refer release')
    parser.add_argument('--img-dir', default='train2014',
                        help='image folder under the data root')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='threads for the image check')
    parser.add_argument('--no-image-check', action='store_true',
                        help='skip the image check')
    parser.add_argument('--gres', action='store_true',
                        help='the named datasets hold grefs (grefs(<by>).json), whatever '
                        'their names: a converted GRES folder')
    parser.add_argument('--allow-outside-paths', action='store_true',
                        help='accept image file names that are absolute or climb '
                        'out of the image folder (the datasets\' allow_outside_paths)')
    parser.add_argument('--skip-invalid-polygons', action='store_true',
                        help='accept polygon parts with fewer than 3 points, which '
                        'the datasets\' skip_invalid_polygons drops')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None):
    return build_parser().parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    datasets = ([d for group in args.dataset for d in group] if args.dataset
                else [(n, b) for n, bys in DATASETS.items() for b in bys])
    if not osp.isdir(args.data_root):
        print(f'error: data root {args.data_root} is not a folder', file=sys.stderr)
        return 2
    problems = check(args.data_root, datasets, args.img_dir, args.num_workers,
                     not args.no_image_check, args.allow_outside_paths,
                     True if args.gres else None, args.skip_invalid_polygons)
    if problems:
        print(f'\n{len(problems)} problem(s):')
        for problem in problems:
            print(f'  - {problem}')
        return 1
    print('\nall checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
