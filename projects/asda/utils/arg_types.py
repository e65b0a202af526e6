"""Argument types of the command lines (tools/ and demo/), the check that
an output would overwrite an input, and the optional CONFIG and CHECKPOINT
of the demo tools (:func:`add_model_args`) and their run options
(:func:`add_inference_args`).

Each type stops a tool while its arguments are parsed, before a model is
built or data is read: argparse prints the option, the value and why, and
exits with status 2. An output path must not be a directory nor lie under a
file; :func:`same_file` tells a tool whether an output would overwrite an
input.
"""
import argparse
import os.path as osp
from typing import Optional

import cv2

__all__ = ['IMAGE_EXTENSIONS', 'positive_int', 'seed', 'probability_threshold',
           'output_file', 'image_file', 'same_file', 'add_model_args',
           'add_inference_args']

#: Extensions an image can be written with (``mmcv.imwrite``: OpenCV).
IMAGE_EXTENSIONS = tuple(
    ext for ext in ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
    if cv2.haveImageWriter('x' + ext))


def _integer(text: str, low: int, high: Optional[int] = None) -> int:
    """``text`` as an integer in [low, high] (no upper bound when None)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not an integer') from None
    if value < low or (high is not None and value > high):
        bound = f'>= {low}' if high is None else f'in [{low}, {high}]'
        raise argparse.ArgumentTypeError(f'must be {bound}, got {value}')
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _integer(text, 1)


def seed(text: str) -> int:
    """A random seed numpy takes: an integer in [0, 2**32 - 1]."""
    return _integer(text, 0, 2**32 - 1)


def probability_threshold(text: str) -> float:
    """A threshold on a probability: a number strictly between 0 and 1 (0
    or 1 and beyond would make every mask full or empty; NaN compares false
    with everything)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not 0.0 < value < 1.0:  # False for NaN too
        raise argparse.ArgumentTypeError(
            f'must lie strictly between 0 and 1, got {text}')
    return value


def same_file(a: str, b: str) -> bool:
    """Whether the paths ``a`` and ``b`` name one file: the same path once
    links and ``..`` are resolved, or two existing names of one file (a hard
    link)."""
    if osp.realpath(a) == osp.realpath(b):
        return True
    try:
        return osp.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def output_file(text: str) -> str:
    """A path a file can be written to: not an existing directory, and no
    folder on its way is a file (missing folders are created later)."""
    if osp.isdir(text):
        raise argparse.ArgumentTypeError(
            f'{text!r} is a directory; give a file name')
    parent = osp.dirname(osp.abspath(text))
    while not osp.exists(parent):
        parent = osp.dirname(parent)
    if not osp.isdir(parent):
        raise argparse.ArgumentTypeError(
            f'{text!r} cannot be created: {parent} is a file')
    return text


def image_file(text: str) -> str:
    """A path to write an image to (:func:`output_file`): its extension says
    the format."""
    ext = osp.splitext(text)[1]
    if ext.lower() not in IMAGE_EXTENSIONS:
        what = f'the unknown extension {ext!r}' if ext else 'no extension'
        raise argparse.ArgumentTypeError(
            f'{text!r} has {what}; accepted: {", ".join(IMAGE_EXTENSIONS)}')
    return output_file(text)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """The optional positionals CONFIG and CHECKPOINT of a tool that runs a
    model: both, or neither for the committed demo model. The tool parses
    its command line with :func:`asda.apis.demo_model.parse_model_args`,
    which checks them and resolves neither to the demo model."""
    parser.add_argument('config', nargs='?',
                        help="config file (default: the committed demo model's)")
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint file (default: the committed demo model)')


def add_inference_args(parser: argparse.ArgumentParser, default_max_pixels: int) -> None:
    """How a demo tool runs the model: ``--threshold`` (strictly between 0
    and 1; None: the config's), ``--device``, ``--fp16`` / ``--bf16``
    (``dtype``: 'fp32', 'fp16' or 'bf16', as ``RISInferencer`` takes it) and
    ``--max-pixels`` (the pixel limit of an input image; the caller passes
    :data:`asda.apis.image_io.DEFAULT_MAX_PIXELS`, which this layer cannot
    import)."""
    parser.add_argument('--threshold', type=probability_threshold,
                        help='foreground threshold on the probability, strictly between '
                        '0 and 1 (default: the config\'s decode_head.threshold)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    half = parser.add_mutually_exclusive_group()
    half.add_argument('--fp16', dest='dtype', action='store_const', const='fp16',
                      default='fp32', help='run the model under float16 autocast')
    half.add_argument('--bf16', dest='dtype', action='store_const', const='bf16',
                      help='run the model under bfloat16 autocast')
    side = round(default_max_pixels ** 0.5)
    shown = f' = {side} x {side}' if side * side == default_max_pixels else ''
    parser.add_argument('--max-pixels', type=positive_int, default=default_max_pixels,
                        help='refuse an image of more pixels, read from its header before '
                        f'it is decoded (default {default_max_pixels:,}{shown})')
