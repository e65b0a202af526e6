"""The command line the converters share (:func:`converter_parser`: the
inputs, OUT_DIR and the output options), and their run (:func:`run`): build
(check every input), write into a folder beside OUT_DIR, run the data check
on it, rename it into place, print the counts. Bad input stops it with every
problem listed and nothing written. ``tools/dataset_converters/
{coco,masks,labelme}_to_refer.py`` are thin wrappers of the two."""
import argparse
import os.path as osp
import sys
from typing import Callable, Dict, List, Sequence, Tuple

from ..refer_check import check
from .builder import DEFAULT_SPLIT_RATIOS, IMAGE_MODES, ReferBuilder, refs_file_name
from .rows import ConversionError

__all__ = ['converter_parser', 'add_output_args', 'split_ratios', 'run']


def split_ratio(text: str) -> tuple:
    """``NAME=RATIO`` (e.g. ``val=0.1``) as (name, float)."""
    name, sep, value = text.partition('=')
    try:
        ratio = float(value)
    except ValueError:
        ratio = None
    if not sep or not name or ratio is None or not ratio >= 0:
        raise argparse.ArgumentTypeError(
            f'{text!r}: expected NAME=RATIO with a ratio >= 0 (e.g. val=0.1)')
    return name, ratio


def split_ratios(pairs) -> Dict[str, float]:
    """``--split-ratios`` pairs as a dict (the defaults when None)."""
    return dict(pairs) if pairs else dict(DEFAULT_SPLIT_RATIOS)


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """``OUT_DIR`` and the output options every converter has."""
    parser.add_argument('out_dir', help='output folder (written as a whole at the end; '
                        'must not exist unless --overwrite)')
    parser.add_argument('--gres', action='store_true',
                        help='gRefCOCO-style: an expression may refer to several objects '
                        'or to none; writes grefs(<split-by>).json')
    parser.add_argument('--folder', default=None,
                        help='annotation folder under OUT_DIR (default: refcoco, or '
                        'grefcoco with --gres)')
    parser.add_argument('--split-by', default='unc',
                        help='the refs file is refs(<split-by>).p (default: unc)')
    ratios = ' '.join(f'{k}={v}' for k, v in DEFAULT_SPLIT_RATIOS.items())
    parser.add_argument('--split-ratios', nargs='+', type=split_ratio, metavar='NAME=RATIO',
                        help='splits drawn by image when the input gives none (default: '
                        f'{ratios})')
    parser.add_argument('--seed', type=int, default=0, help='seed of the split draw')
    parser.add_argument('--images', choices=IMAGE_MODES, default='copy',
                        help='how images reach OUT_DIR/images: copy (default), symlink '
                        '(to the source file) or hardlink')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing OUT_DIR (only once the new one is complete)')
    parser.add_argument('--no-image-check', action='store_true',
                        help='skip the full decode of every image in the final data check')


def converter_parser(description: str,
                     inputs: Sequence[Tuple[str, str]]) -> argparse.ArgumentParser:
    """A converter's command line: its input positionals, then OUT_DIR and
    the output options (:func:`add_output_args`).

    Args:
        description (str): What the converter reads (``--help`` shows it).
        inputs (Sequence[tuple[str, str]]): (name, help) of each input
            positional, in order.
    """
    parser = argparse.ArgumentParser(description=description)
    for name, text in inputs:
        parser.add_argument(name, help=text)
    add_output_args(parser)
    return parser


def run(build: Callable[[], ReferBuilder], args) -> int:
    """Build, write, check and report; returns the exit status (1 with the
    problems on stderr for bad input; nothing is written then).

    Writes OUT_DIR/images/, OUT_DIR/refcoco/instances.json and
    OUT_DIR/refcoco/refs(unc).p (``--gres``: OUT_DIR/grefcoco/grefs(unc).json;
    ``--folder`` and ``--split-by`` name the folder and the file).

    The data check (:func:`asda.datasets.refer_check.check`, what
    ``check_refer_data.py`` runs) runs on the written folder before it is
    renamed into place; it prints its table of counts.

    Args:
        build (Callable): Reads and checks the input, returns the builder.
        args (Namespace): Parsed :func:`add_output_args` options.
    """
    folder = args.folder or ('grefcoco' if args.gres else 'refcoco')
    if osp.lexists(args.out_dir) and not args.overwrite:
        print(f'error: {args.out_dir} exists; choose another OUT_DIR or pass --overwrite',
              file=sys.stderr)
        return 1

    def data_check(root: str) -> List[str]:
        return check(root, [(folder, args.split_by)], img_dir='images',
                     image_check=not args.no_image_check, gres=args.gres)

    try:
        summary = build().write(
            args.out_dir, folder=folder, split_by=args.split_by,
            ratios=split_ratios(args.split_ratios), seed=args.seed, images=args.images,
            overwrite=args.overwrite, check=data_check)
    except (ConversionError, OSError) as err:  # OSError: a missing file, a full disk, ...
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'\nwrote {args.out_dir}: {summary["num_images"]} images, '
          f'{summary["num_annotations"]} annotations, {summary["num_refs"]} refs, '
          f'{summary["num_expressions"]} expressions ({folder}/'
          f'{refs_file_name(args.split_by, args.gres)})')
    for split, counts in summary['splits'].items():
        print(f'  {split}: {counts["images"]} images, {counts["refs"]} refs, '
              f'{counts["expressions"]} expressions')
    return 0
