"""The expression checker (asda.synthetic.expressions) on a hand-built scene:
referring and gRefCOCO forms, and what it refuses."""
import pytest

from asda.synthetic.expressions import expression_combination, parse_expression, referred_objects


@pytest.mark.parametrize('text,expected', [
    ('both circles', [0, 1]),
    ('the two red circles', [0, 1]),
    ('all red objects', [0, 1, 3]),
    ('the three red shapes', [0, 1, 3]),
    ('all the red shapes on the left', [0, 3]),
    ('the purple hexagon', []),
    ('both purple hexagons', []),
    ('the leftmost green object', []),
    ('all the blue circles at the top', []),
    ('the blue square', [2]),
    ('square', [2]),
    ('the blue object', [2]),
    ('the circle on the left', [0]),
    ('right circle', [1]),
    ('the biggest object', [2]),
    ('the rightmost red shape', [1]),
    ('the lowest object', [3]),
])
def test_checker_on_a_hand_built_scene(checker_scene, text, expected):
    assert referred_objects(text, checker_scene) == expected


@pytest.mark.parametrize('text,match', [
    ('the circle', 'none is singled out'),
    ('the three circles', 'says 3 objects'),
    ('the leftmost circle', 'compares three or more'),
    ('the left red object', 'compares two'),
    ('the leftmost red shape', 'no object is clearly'),
    ('the red', 'one noun'),
    ('the circle square', 'one noun'),
    ('both the circles on the far left', 'plural phrase'),
])
def test_checker_rejects_unclear_or_malformed(checker_scene, text, match):
    with pytest.raises(ValueError, match=match):
        referred_objects(text, checker_scene)


def test_checker_region_border_is_an_error(checker_scene):
    scene = checker_scene
    scene['objects'][3]['cx'] = 95  # just left of the middle: not clearly
    with pytest.raises(ValueError, match='border'):
        referred_objects('all the red shapes on the left', scene)


@pytest.mark.parametrize('text,spec', [
    ('the leftmost red circle', dict(plural=False, colour='red', shape='circle',
                                     selector='leftmost')),
    ('circle on the far left', dict(plural=False, colour=None, shape='circle',
                                    selector='on the far left')),
    ('all the blue shapes at the top', dict(plural=True, colour='blue', shape=None,
                                            quantifier='all the',
                                            region='at the top')),
    ('both hexagons', dict(plural=True, colour=None, shape='hexagon',
                           quantifier='both', region=None)),
])
def test_parse_expression(text, spec):
    parsed = parse_expression(text)
    assert {k: parsed[k] for k in spec} == spec
    assert expression_combination(text) == (parsed['colour'], parsed['shape'],
                                            parsed['region'])
