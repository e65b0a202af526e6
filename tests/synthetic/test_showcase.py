"""The hand-placed showcase scenes (asda.synthetic.showcase): each
expression means, by the world's own checker, the object it is listed
with."""
import pytest

from asda.synthetic.expressions import referred_objects
from asda.synthetic.scenes import rasterized, scene_record
from asda.synthetic.showcase import SHOWCASE, showcase_image, showcase_masks


@pytest.mark.parametrize('name', sorted(SHOWCASE))
def test_showcase_expressions_mean_their_objects(name):
    scene = SHOWCASE[name]
    record = scene_record(rasterized(scene), scene['w'], scene['h'])
    for text, index in scene['expressions'].items():
        assert referred_objects(text, record) == [index], text
    kinds = ' '.join(scene['expressions'])
    image = showcase_image(name)
    assert image.shape == (scene['h'], scene['w'], 3)
    masks = showcase_masks(name)
    assert len(masks) == len(scene['objects']) and all(m.any() for m in masks)
    assert kinds  # every scene names objects


def test_showcase_covers_position_size_and_attributes():
    texts = ' '.join(t for s in SHOWCASE.values() for t in s['expressions'])
    for word in ('left', 'right', 'upper', 'lower', 'largest', 'smallest', 'purple'):
        assert word in texts
