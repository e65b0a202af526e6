"""The checker of the synthetic expressions: which objects of a scene an
expression refers to, for the referring (RefCOCO-style) and the gRefCOCO
forms alike.

It parses an expression on its own (its own word tables, not the generators'
templates) and resolves it in the scene with the world's rules
(:mod:`asda.synthetic.scenes`: relations, regions, nouns):

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
referent: the generators must never write it.

A scene is :func:`asda.synthetic.scenes.scene_record`'s ``dict(w, h,
objects=[dict(colour, shape, cx, cy, area), ...])`` (pixels).
"""
from typing import List, Optional, Tuple

from .scenes import (
    COLOURS,
    PAIR_RELATIONS,
    PLURAL_NOUNS,
    PLURAL_SHAPES,
    REGIONS,
    SHAPES,
    SINGULAR_NOUNS,
    region_split,
    relation_holds,
)

__all__ = ['parse_expression', 'referred_objects', 'expression_combination']

# Selectors of a singular phrase: word or phrase -> (relation the referent
# has to every other candidate, arity). 'pair' words compare two
# candidates, 'many' words three or more.
_PRE_SELECTORS = {
    'left': ('left of', 'pair'), 'right': ('right of', 'pair'),
    'top': ('above', 'pair'), 'upper': ('above', 'pair'),
    'bottom': ('below', 'pair'), 'lower': ('below', 'pair'),
    'bigger': ('bigger than', 'pair'), 'larger': ('bigger than', 'pair'),
    'smaller': ('smaller than', 'pair'), 'small': ('smaller than', 'pair'),
    'leftmost': ('left of', 'many'), 'rightmost': ('right of', 'many'),
    'topmost': ('above', 'many'), 'lowest': ('below', 'many'),
    'biggest': ('bigger than', 'many'), 'largest': ('bigger than', 'many'),
    'smallest': ('smaller than', 'many'), 'tiniest': ('smaller than', 'many'),
}
_POST_SELECTORS = {
    'on the left': ('left of', 'pair'), 'on the right': ('right of', 'pair'),
    'on the far left': ('left of', 'many'),
    'on the far right': ('right of', 'many'),
    'at the top': ('above', 'many'), 'at the bottom': ('below', 'many'),
}
# Quantifiers of a plural phrase -> the number of referents they presuppose
# (None: any).
_QUANTIFIERS = {'all': None, 'all the': None, 'the': None, 'both': 2,
                'the two': 2, 'the three': 3}


def parse_expression(text: str) -> dict:
    """Parse an expression of the synthetic grammar.

    Returns:
        dict: ``plural`` (bool), ``colour`` and ``shape`` (None when not
        named), ``selector`` (a singular phrase's relation word / phrase or
        None), ``quantifier`` (a plural phrase's, else None) and ``region``
        (a plural phrase's region of
        :data:`asda.synthetic.scenes.REGIONS` or None).

    Raises:
        ValueError: ``text`` is not in the grammar.
    """
    tokens = text.split()
    nouns = [k for k, t in enumerate(tokens)
             if t in SINGULAR_NOUNS or t in PLURAL_NOUNS]
    if len(nouns) != 1:
        raise ValueError(f'expression {text!r}: expected one noun (object, '
                         f'shape, thing or a shape word), found {len(nouns)}')
    k = nouns[0]
    noun, pre, post = tokens[k], tokens[:k], ' '.join(tokens[k + 1:])
    colour = pre.pop() if pre and pre[-1] in COLOURS else None
    is_plural = noun in PLURAL_NOUNS
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


def _clear_winner(group: List[int], objs: List[dict], relation: str,
                  w: int, h: int) -> Optional[int]:
    """The member that has ``relation`` clearly to every other member
    (:func:`asda.synthetic.scenes.relation_holds`), else None."""
    key, sign = PAIR_RELATIONS[relation]
    extreme = max if sign > 0 else min
    best = extreme(group, key=lambda i: objs[i][key])
    clear = all(relation_holds(relation, objs[best], objs[i], w, h)
                for i in group if i != best)
    return best if clear else None


def _plural_referents(text: str, spec: dict, group: List[int],
                      scene: dict) -> List[int]:
    """The members of ``group`` a plural phrase refers to (its region's),
    after checking its quantifier."""
    region = spec['region']
    if region is not None:
        group, border = region_split(region, group, scene['objects'],
                                     scene['w'], scene['h'])
        if border:
            raise ValueError(f'{text!r}: an object it names is near the '
                             f'border of the region {region!r}')
    count = _QUANTIFIERS[spec['quantifier']]
    if group and count is not None and len(group) != count:
        raise ValueError(f'{text!r}: says {count} objects, the scene has '
                         f'{len(group)}')
    return group


def referred_objects(text: str, scene: dict) -> List[int]:
    """Indices of the objects of ``scene`` that ``text`` refers to, in
    increasing order; empty when the scene has no object it names.

    Raises:
        ValueError: ``text`` is not in the grammar, or it names objects of
            the scene without picking them out clearly (see the module
            docstring).
    """
    spec = parse_expression(text)
    objs = scene['objects']
    group = [i for i, o in enumerate(objs)
             if spec['colour'] in (None, o['colour'])
             and spec['shape'] in (None, o['shape'])]
    if spec['plural']:
        return _plural_referents(text, spec, group, scene)
    if not group:
        return []
    if spec['selector'] is None:
        if len(group) > 1:
            raise ValueError(f'{text!r}: {len(group)} objects fit, none is '
                             f'singled out')
        return group
    relation, arity = {**_PRE_SELECTORS, **_POST_SELECTORS}[spec['selector']]
    if (arity == 'pair') != (len(group) == 2) or len(group) < 2:
        raise ValueError(f'{text!r}: {spec["selector"]!r} compares '
                         f'{"two" if arity == "pair" else "three or more"} '
                         f'objects, the scene has {len(group)}')
    best = _clear_winner(group, objs, relation, scene['w'], scene['h'])
    if best is None:
        raise ValueError(f'{text!r}: no object is clearly '
                         f'{spec["selector"]!r}')
    return [best]
