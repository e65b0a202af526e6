"""The checker of the synthetic gRefCOCO expressions: which objects of a scene
an expression refers to.

It parses an expression on its own (its own word tables, not the generator's
templates) and resolves it in the scene:

* a singular noun phrase (``the red circle``, ``the leftmost object``,
  ``small blue square``, ``the circle on the far left``) refers to the one
  object it singles out;
* a plural one (``all red objects``, ``both circles``, ``the three
  squares``, ``all the shapes on the left``) to every object it names;
* either refers to nothing when no object has its colour / shape: a
  no-target expression.

An expression that names objects but does not pick them out clearly (two
circles for ``the circle``, a relation without a clear winner, ``both
circles`` among three, an object near a region's border) is an error, not a
referent: the generator must never write it.

A scene is ``dict(w, h, objects=[dict(colour, shape, cx, cy, area), ...])``
(pixels; ``area`` in pixels too).
"""
from typing import List, Optional, Tuple

from .synthetic import COLOURS, POSITION_MARGIN, SHAPES, SIZE_RATIO
from .synthetic_captions import REGION_MARGIN, REGIONS, relation_holds

__all__ = ['parse_expression', 'referred_objects', 'expression_combination',
           'GENERIC_NOUNS', 'GENERIC_PLURALS', 'PLURAL_SHAPES']

#: Generic nouns (any object), singular and plural.
GENERIC_NOUNS = ('object', 'shape', 'thing')
GENERIC_PLURALS = tuple(n + 's' for n in GENERIC_NOUNS)
#: Plural of each shape word.
PLURAL_SHAPES = {s: s + 's' for s in SHAPES}

# Selectors of a singular phrase: word or phrase -> (key, extreme, arity).
# 'pair' words compare two candidates, 'many' words three or more.
_PRE_SELECTORS = {
    'left': ('cx', min, 'pair'), 'right': ('cx', max, 'pair'),
    'top': ('cy', min, 'pair'), 'upper': ('cy', min, 'pair'),
    'bottom': ('cy', max, 'pair'), 'lower': ('cy', max, 'pair'),
    'bigger': ('area', max, 'pair'), 'larger': ('area', max, 'pair'),
    'smaller': ('area', min, 'pair'), 'small': ('area', min, 'pair'),
    'leftmost': ('cx', min, 'many'), 'rightmost': ('cx', max, 'many'),
    'topmost': ('cy', min, 'many'), 'lowest': ('cy', max, 'many'),
    'biggest': ('area', max, 'many'), 'largest': ('area', max, 'many'),
    'smallest': ('area', min, 'many'), 'tiniest': ('area', min, 'many'),
}
_POST_SELECTORS = {
    'on the left': ('cx', min, 'pair'), 'on the right': ('cx', max, 'pair'),
    'on the far left': ('cx', min, 'many'),
    'on the far right': ('cx', max, 'many'),
    'at the top': ('cy', min, 'many'), 'at the bottom': ('cy', max, 'many'),
}
# Quantifiers of a plural phrase -> the number of referents they presuppose
# (None: any).
_QUANTIFIERS = {'all': None, 'all the': None, 'the': None, 'both': 2,
                'the two': 2, 'the three': 3}


def parse_expression(text: str) -> dict:
    """Parse an expression of the synthetic gRefCOCO grammar.

    Returns:
        dict: ``plural`` (bool), ``colour`` and ``shape`` (None when not
        named), ``selector`` (a singular phrase's relation word / phrase or
        None), ``quantifier`` (a plural phrase's, else None) and ``region``
        (a plural phrase's region of :data:`REGIONS` or None).

    Raises:
        ValueError: ``text`` is not in the grammar.
    """
    tokens = text.split()
    singular = set(GENERIC_NOUNS) | set(SHAPES)
    plural = set(GENERIC_PLURALS) | set(PLURAL_SHAPES.values())
    nouns = [k for k, t in enumerate(tokens) if t in singular | plural]
    if len(nouns) != 1:
        raise ValueError(f'expression {text!r}: expected one noun (object, '
                         f'shape, thing or a shape word), found {len(nouns)}')
    k = nouns[0]
    noun, pre, post = tokens[k], tokens[:k], ' '.join(tokens[k + 1:])
    colour = pre.pop() if pre and pre[-1] in COLOURS else None
    is_plural = noun in plural
    shape = (next(s for s, p in PLURAL_SHAPES.items() if p == noun)
             if noun in PLURAL_SHAPES.values() else
             noun if noun in SHAPES else None)
    spec = dict(plural=is_plural, colour=colour, shape=shape, selector=None,
                quantifier=None, region=None)
    if is_plural:
        quantifier = ' '.join(pre)
        if quantifier not in _QUANTIFIERS or (post and post not in REGIONS):
            raise ValueError(f'expression {text!r}: a plural phrase is '
                             f'"{"|".join(_QUANTIFIERS)} [colour] noun '
                             f'[{"|".join(REGIONS)}]"')
        spec.update(quantifier=quantifier, region=post or None)
        return spec
    if pre[:1] == ['the']:
        pre = pre[1:]
    if len(pre) > 1 or (pre and pre[0] not in _PRE_SELECTORS) or (
            post and post not in _POST_SELECTORS) or (pre and post):
        raise ValueError(f'expression {text!r}: a singular phrase is "[the] '
                         f'[relation] [colour] noun [relation phrase]" with '
                         f'one relation at most')
    spec['selector'] = pre[0] if pre else (post or None)
    return spec


def expression_combination(text: str) -> Tuple[Optional[str], ...]:
    """What an expression names: (colour, shape, region), None for what it
    does not name (``region``: a plural phrase's region of the image)."""
    spec = parse_expression(text)
    return spec['colour'], spec['shape'], spec['region']


def _clear_winner(group: List[int], objs: List[dict], key: str, extreme,
                  w: int, h: int) -> Optional[int]:
    """The member at the extreme of ``key`` if it beats every other member
    clearly (position: by POSITION_MARGIN of the side; area: by SIZE_RATIO),
    else None."""
    best = extreme(group, key=lambda i: objs[i][key])
    v = objs[best][key]
    others = [objs[i][key] for i in group if i != best]
    if key == 'area':
        bigger = extreme is max
        clear = all((v > SIZE_RATIO * o) if bigger else (v * SIZE_RATIO < o)
                    for o in others)
    else:
        margin = POSITION_MARGIN * (w if key == 'cx' else h)
        clear = all(abs(v - o) > margin for o in others)
    return best if clear else None


def referred_objects(text: str, scene: dict) -> List[int]:
    """Indices of the objects of ``scene`` that ``text`` refers to, in
    increasing order; empty when the scene has no object it names.

    Raises:
        ValueError: ``text`` is not in the grammar, or it names objects of
            the scene without picking them out clearly (see the module
            docstring).
    """
    spec = parse_expression(text)
    w, h, objs = scene['w'], scene['h'], scene['objects']
    group = [i for i, o in enumerate(objs)
             if spec['colour'] in (None, o['colour'])
             and spec['shape'] in (None, o['shape'])]
    if spec['plural']:
        region = spec['region']
        if region is not None:
            inside = [i for i in group if relation_holds(
                region, objs[i], None, w, h, REGION_MARGIN)]
            outside = [i for i in group if not relation_holds(
                region, objs[i], None, w, h, 0.0)]
            if len(inside) + len(outside) != len(group):
                raise ValueError(f'{text!r}: an object it names is near the '
                                 f'border of the region {region!r}')
            group = inside
        count = _QUANTIFIERS[spec['quantifier']]
        if group and count is not None and len(group) != count:
            raise ValueError(f'{text!r}: says {count} objects, the scene has '
                             f'{len(group)}')
        return group
    if not group:
        return []
    if spec['selector'] is None:
        if len(group) > 1:
            raise ValueError(f'{text!r}: {len(group)} objects fit, none is '
                             f'singled out')
        return group
    key, extreme, arity = {**_PRE_SELECTORS,
                           **_POST_SELECTORS}[spec['selector']]
    if (arity == 'pair') != (len(group) == 2) or len(group) < 2:
        raise ValueError(f'{text!r}: {spec["selector"]!r} compares '
                         f'{"two" if arity == "pair" else "three or more"} '
                         f'objects, the scene has {len(group)}')
    best = _clear_winner(group, objs, key, extreme, w, h)
    if best is None:
        raise ValueError(f'{text!r}: no object is clearly '
                         f'{spec["selector"]!r}')
    return [best]
