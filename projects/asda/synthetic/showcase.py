"""Hand-placed scenes for the demos' pictures and the demo model's test:
images the generators never drew, each with expressions of a shape, a
position and a size, and the object each one means.

:data:`SHOWCASE` lists them; :func:`showcase_image` paints one (the world's
own drawing, :func:`asda.synthetic.scenes.paint_scene`) and
:func:`showcase_masks` gives its objects' masks. ``tools/misc/make_showcase.py``
writes them to ``demo/examples/`` (the web demo's examples).
"""
import random
from typing import List

import numpy as np

from .scenes import paint_scene, rasterized

__all__ = ['SHOWCASE', 'showcase_image', 'showcase_masks']


def _obj(colour: str, shape: str, cx: float, cy: float, r: float) -> dict:
    return dict(colour=colour, shape=shape, cx=cx, cy=cy, r=r)


#: name -> scene (``w``, ``h``, ``objects``, ``paint_seed``) and its
#: ``expressions``: text -> index of the object it means.
SHOWCASE = {
    'two_circles': dict(
        w=256, h=192, paint_seed=11,
        objects=[_obj('green', 'circle', 52, 70, 38), _obj('green', 'circle', 150, 124, 36),
                 _obj('purple', 'hexagon', 214, 58, 30)],
        expressions={'the circle on the left': 0, 'the circle on the right': 1,
                     'the purple hexagon': 2, 'the smallest shape': 2}),
    'sizes': dict(
        w=240, h=224, paint_seed=12,
        objects=[_obj('red', 'square', 60, 160, 54), _obj('blue', 'triangle', 176, 64, 34),
                 _obj('yellow', 'diamond', 180, 170, 38)],
        expressions={'the largest shape': 0, 'the smallest shape': 1,
                     'the yellow diamond': 2, 'the blue triangle': 1}),
    'top_bottom': dict(
        w=208, h=256, paint_seed=13,
        objects=[_obj('blue', 'diamond', 70, 60, 40), _obj('blue', 'diamond', 128, 196, 42),
                 _obj('red', 'circle', 164, 88, 32)],
        expressions={'the upper diamond': 0, 'the lower diamond': 1,
                     'the red circle': 2, 'the bottom diamond': 1}),
}


def showcase_image(name: str) -> np.ndarray:
    """The (h, w, 3) uint8 BGR image of a :data:`SHOWCASE` scene."""
    scene = SHOWCASE[name]
    seed = scene['paint_seed']
    return paint_scene(rasterized(scene), scene['w'], scene['h'], random.Random(seed),
                       np.random.default_rng(seed))


def showcase_masks(name: str) -> List[np.ndarray]:
    """Each object's (h, w) bool mask, in :data:`SHOWCASE` order."""
    return [o['mask'] > 0 for o in rasterized(SHOWCASE[name])]
