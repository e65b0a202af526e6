"""The showcase scenes (:mod:`asda.synthetic.showcase`): hand-placed images the
generators never drew, and a model's picks on them.

    python tools/misc/make_showcase.py [--out-dir demo/examples] \
        [--picture docs/showcase.png [CONFIG CHECKPOINT]]

Writes each scene as ``OUT_DIR/<name>.png`` (the web demo's examples). With
``--picture``, also runs a model (default: the committed demo model,
:func:`asda.apis.demo_model`) on every expression of every scene and writes
one picture: a row per scene, a column per expression, each the predicted
mask over the image (a fill and an outline in a contrasting colour) with the
expression above it; its IoU with the object the expression means is printed
to the console.
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np

from asda.synthetic.demo import contrasting_colour
from asda.synthetic.showcase import SHOWCASE, showcase_image, showcase_masks
from asda.utils.arg_types import add_model_args, image_file
from asda.utils.atomic import atomic_write

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_model_args(parser)
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'demo', 'examples'),
                        help='folder of the scenes (PNG)')
    parser.add_argument('--picture', type=image_file,
                        help="write the model's picks on every scene to this image")
    return parser


def parse_args(argv=None):
    from asda.apis.demo_model import parse_model_args
    return parse_model_args(build_parser(), argv)


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode('.png', image)
    if not ok:
        raise RuntimeError('PNG encoding failed')
    return data.tobytes()


def write_scenes(out_dir: str) -> list:
    """Write every scene as a PNG; return the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in SHOWCASE:
        path = osp.join(out_dir, f'{name}.png')
        atomic_write(path, _png(showcase_image(name)))
        paths.append(path)
    return paths


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def overlay(image: np.ndarray, mask: np.ndarray, text: str, cell: int) -> np.ndarray:
    """A ``cell`` x ``cell`` RGB tile: the image with the mask as a
    translucent fill and an outline in the colour that contrasts most with
    the object (:func:`asda.synthetic.demo.contrasting_colour`), under a
    band with the expression."""
    colour = np.array(contrasting_colour(image, mask)) * 255
    drawn = image.astype(np.float32)
    drawn[mask] = 0.55 * drawn[mask] + 0.45 * colour
    drawn = drawn.astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(drawn, contours, -1, tuple(int(c) for c in colour), 2)
    band = 24
    scale = min((cell - band) / drawn.shape[0], cell / drawn.shape[1])
    drawn = cv2.resize(drawn, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    tile = np.full((cell, cell, 3), 255, np.uint8)
    tile[:band] = 30
    cv2.putText(tile, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    tile[band:band + drawn.shape[0], :drawn.shape[1]] = drawn
    return tile


def picks(inferencer, cell: int = 240) -> tuple:
    """The model's overlays, tiled (RGB, a row per scene), and per
    expression (scene, text, IoU with its object)."""
    rows, scores = [], []
    width = max(len(s['expressions']) for s in SHOWCASE.values())
    for name, scene in SHOWCASE.items():
        image = showcase_image(name)[..., ::-1].copy()  # BGR -> RGB
        masks = showcase_masks(name)
        texts = list(scene['expressions'])
        tiles = []
        for text, result in zip(texts, inferencer(image, texts)):
            scores.append((name, text, _iou(result['mask'], masks[scene['expressions'][text]])))
            tiles.append(overlay(image, result['mask'], text, cell))
        tiles += [np.full((cell, cell, 3), 255, np.uint8)] * (width - len(tiles))
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0), scores


def main(argv=None) -> list:
    args = parse_args(argv)
    for path in write_scenes(args.out_dir):
        print(f'wrote {path}')
    if args.picture is None:
        return []
    from asda.apis import RISInferencer
    inferencer = RISInferencer(args.config, args.checkpoint)
    picture, scores = picks(inferencer)
    atomic_write(args.picture, _png(picture[..., ::-1]))
    for name, text, iou in scores:
        print(f'{name}: {text!r} IoU {iou:.2f}')
    print(f'wrote {args.picture}')
    return scores


if __name__ == '__main__':
    main()
