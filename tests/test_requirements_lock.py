"""requirements/lock.txt is installed without dependency resolution (make's
set-up: ``pip install --no-deps -r requirements/lock.txt``, then ``pip
check``), so it must pin every package a package it pins requires on this
Python, at a version that requirement accepts."""
import os.path as osp
from importlib.metadata import PackageNotFoundError, distribution
from typing import Callable, Dict, List

from asda_test_utils import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = osp.join(ROOT, 'requirements', 'lock.txt')


def pins(path: str) -> Dict[str, str]:
    """The lock's ``name==version`` lines: canonical name -> version."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                name, version = line.split('==')
                out[canonicalize_name(name)] = version
    return out


def _installed_requires(name: str) -> List[str]:
    try:
        return distribution(name).requires or []
    except PackageNotFoundError:
        raise AssertionError(f'{name} is pinned but not installed: the tests '
                             'run in the environment the lock installs') from None


def unmet(locked: Dict[str, str],
          requires: Callable[[str], List[str]] = _installed_requires) -> List[str]:
    """Each requirement of a locked package (its markers evaluated here,
    without extras) that the lock does not pin, or pins at a version it
    does not accept."""
    out = []
    for name in sorted(locked):
        for text in requires(name):
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({'extra': ''}):
                continue
            have = locked.get(canonicalize_name(req.name))
            if have is None or not req.specifier.contains(have, prereleases=True):
                out.append(f'{name} requires {text}; the lock pins '
                           f'{have or "nothing"}')
    return out


def test_the_lock_pins_every_requirement_of_what_it_pins():
    assert unmet(pins(LOCK)) == []


def test_unmet_names_a_missing_pin_and_a_version_out_of_range():
    requires = {'a': ['b>=2', 'c; python_version < "3"', 'd; extra == "dev"'],
                'b': ['e'], 'e': []}.__getitem__
    assert unmet({'a': '1', 'b': '2', 'e': '1'}, requires) == []
    assert unmet({'a': '1', 'b': '1.5', 'e': '1'}, requires) == [
        'a requires b>=2; the lock pins 1.5']
    assert unmet({'a': '1', 'b': '2'}, requires) == [
        'b requires e; the lock pins nothing']
