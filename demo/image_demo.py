"""Segment the object an expression refers to in one image.

    python demo/image_demo.py IMAGE "the red circle on the left" \
        [CONFIG CHECKPOINT] --out-file overlay.png [--out-mask mask.png] \
        [--out-prob prob.png] [--device cpu] [--threshold 0.35] [--fp16] \
        [--boxes]

Without CONFIG and CHECKPOINT it runs the trained demo model that the
checkout ships (:mod:`asda.apis.demo_model`; it knows the synthetic world of
coloured shapes).

Writes the overlay (the mask tinted on the image, the expression written
above it) and optionally the binary mask (0 / 255 PNG at the image's size)
and the probability map. More expressions of the same image: ``-e "another
one"`` (repeatable); their files get a numbered suffix (``overlay_1.png``).
Output names that are the input image, or that name one file twice, are
refused before anything runs, and so is an image of more than
``--max-pixels`` pixels (read from its header, nothing decoded;
:mod:`asda.apis.image_io`).
``--fp16`` / ``--bf16``: half-precision inference (autocast; e.g. ``--device
cuda --fp16``). ``--boxes``: draw the box of the mask's largest connected
component (a GRES model: the box of each of its ``instances``) on the overlay
and print it (``[x, y, w, h]``). A photo with an EXIF orientation tag is
turned as viewers show it (:func:`asda.apis.image_io.load_image`), and so are
its mask and overlay.
"""
import argparse
import os
import os.path as osp

import numpy as np

from asda.apis import RISInferencer
from asda.apis.demo_model import parse_model_args
from asda.apis.image_io import DEFAULT_MAX_PIXELS, ImageTooLargeError, check_image_file
from asda.apis.inference import result_boxes
from asda.utils.arg_types import (
    add_inference_args,
    add_model_args,
    image_file,
    same_file,
)

#: The output options, each with a numbered file per extra expression.
OUTPUTS = ('out_file', 'out_mask', 'out_prob')


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Referring image segmentation of one image')
    parser.add_argument('img', help='image file')
    parser.add_argument('expression', help='referring expression (quoted)')
    add_model_args(parser)
    parser.add_argument('--out-file', default='overlay.png', type=image_file,
                        help='where to write the overlay')
    parser.add_argument('--out-mask', type=image_file,
                        help='also write the binary mask (PNG)')
    parser.add_argument('--out-prob', type=image_file,
                        help='also write the probability map (8-bit PNG)')
    parser.add_argument('-e', '--extra-expression', action='append',
                        default=[], help='another expression (repeatable)')
    parser.add_argument('--boxes', action='store_true',
                        help='draw and print the box of the mask (a GRES model: '
                        'of each of its instances)')
    add_inference_args(parser, DEFAULT_MAX_PIXELS)
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parse_model_args(parser, argv)
    problem = output_clash(args)
    if problem is not None:
        parser.error(problem)
    try:  # the image's header only: nothing is decoded yet
        check_image_file(args.img, args.max_pixels, 'IMG')
    except (FileNotFoundError, ImageTooLargeError) as err:
        parser.error(str(err))
    return args


def output_clash(args) -> str:
    """Why the files the run would write (every output option, numbered for
    each extra expression) clash, or None: one is the input image, or two
    are one file."""
    written = {}
    for name in OUTPUTS:
        path = getattr(args, name)
        if path is None:
            continue
        option = '--' + name.replace('_', '-')
        for k in range(1 + len(args.extra_expression)):
            out = _numbered(path, k)
            what = f'{option} {path}' + (f' (for expression {k + 1}: {out})' if k else '')
            if same_file(out, args.img):
                return (f'{what} would overwrite the input image {args.img}; '
                        'choose another name')
            for other, other_what in written.items():
                if same_file(out, other):
                    return f'{what} and {other_what} are the same file'
            written[out] = what
    return None


def _numbered(path: str, k: int) -> str:
    if k == 0:
        return path
    root, ext = osp.splitext(path)
    return f'{root}_{k}{ext}'


def main(argv=None):
    args = parse_args(argv)
    import mmcv

    inferencer = RISInferencer(args.config, args.checkpoint, device=args.device,
                               dtype=args.dtype, max_pixels=args.max_pixels)
    if args.threshold is not None:
        inferencer.model.decode_head.threshold = args.threshold
    expressions = [args.expression] + list(args.extra_expression)
    results = inferencer(args.img, expressions)
    for k, result in enumerate(results):
        out_file = _numbered(args.out_file, k)
        os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
        inferencer.visualize(args.img, result, out_file=out_file, boxes=args.boxes)
        mask = result['mask']
        low, mid = result['afs_layers'] or (None, None)
        no_target = '' if result['no_target'] is None else \
            f', no-target probability {result["no_target"]:.3f}'
        print(f'{result["text"]!r}: {int(mask.sum())} of {mask.size} pixels '
              f'({100.0 * mask.mean():.1f}%), AFS layers low={low} mid={mid}'
              f'{no_target} -> {out_file}')
        if args.boxes:
            print(f'  boxes [x, y, w, h]: {result_boxes(result)}')
        if args.out_mask:
            mmcv.imwrite(mask.astype(np.uint8) * 255,
                         _numbered(args.out_mask, k))
        if args.out_prob:
            prob = np.clip(result['prob'] * 255.0 + 0.5, 0, 255)
            mmcv.imwrite(prob.astype(np.uint8), _numbered(args.out_prob, k))
    return results


if __name__ == '__main__':
    main()
