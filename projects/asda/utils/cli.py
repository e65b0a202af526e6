"""Argument types for the command-line tools: a bad value stops the tool
while its arguments are parsed, before a model is built or data is read
(argparse prints the option, the value and why, and exits with status 2).
"""
import argparse
import os.path as osp

import cv2

__all__ = ['IMAGE_EXTENSIONS', 'positive_int', 'image_file']

#: Extensions an image can be written with (``mmcv.imwrite``: OpenCV).
IMAGE_EXTENSIONS = tuple(
    ext for ext in ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
    if cv2.haveImageWriter('x' + ext))


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not an integer') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def image_file(text: str) -> str:
    """A path to write an image to: its extension says the format."""
    ext = osp.splitext(text)[1]
    if ext.lower() not in IMAGE_EXTENSIONS:
        what = f'the unknown extension {ext!r}' if ext else 'no extension'
        raise argparse.ArgumentTypeError(
            f'{text!r} has {what}; accepted: {", ".join(IMAGE_EXTENSIONS)}')
    return text
