"""requirements/lock.txt is installed without dependency resolution (make's
set-up: ``pip install --no-deps -r requirements/lock.txt``, then ``pip
check``), so it must pin every package that this project (with its ``tests``
extra) and every package it pins require on this Python, the packages an
extra of a requirement brings included, at a version the requirement
accepts. ``make lock``, which writes the lock, leaves it as it was when
pip's freeze fails."""
import os
import os.path as osp
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, distribution
from typing import Callable, Dict, Iterable, List, Tuple

import pytest
from asda_test_utils import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = osp.join(ROOT, 'requirements', 'lock.txt')
PROJECT = 'asda-mmseg'  # setup.py's name


def pins(path: str) -> Dict[str, str]:
    """The lock's ``name==version`` lines: canonical name -> version."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                name, sep, version = line.partition('==')
                if not sep or not version:
                    raise ValueError(f'{path}: {line!r} is not a name==version pin')
                out[canonicalize_name(name)] = version
    return out


def _installed_requires(name: str) -> List[str]:
    try:
        return distribution(name).requires or []
    except PackageNotFoundError:
        raise AssertionError(f'{name} is pinned but not installed: the tests '
                             'run in the environment the lock installs') from None


def unmet(locked: Dict[str, str], roots: Iterable[Tuple[str, str]] = (),
          requires: Callable[[str], List[str]] = _installed_requires) -> List[str]:
    """Each requirement (its markers evaluated here) of a locked package, of
    a ``(package, extra)`` root, or of an extra a requirement names, that the
    lock does not pin, or pins at a version it does not accept."""
    out, seen = [], set()
    todo = [(name, '') for name in sorted(locked)] + list(roots)
    while todo:
        name, extra = todo.pop(0)
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for text in requires(name):
            req = Requirement(text)
            if req.marker is None:
                if extra:  # a base requirement: the ('', name) pass has it
                    continue
            elif not req.marker.evaluate({'extra': extra}):
                continue
            have = locked.get(canonicalize_name(req.name))
            if have is None or not req.specifier.contains(have, prereleases=True):
                out.append(f'{name}{f"[{extra}]" if extra else ""} requires '
                           f'{text}; the lock pins {have or "nothing"}')
            todo += [(req.name, e) for e in sorted(req.extras)]
    return out


def test_the_lock_pins_every_requirement_of_what_it_pins():
    assert unmet(pins(LOCK), [(PROJECT, ''), (PROJECT, 'tests')]) == []


def test_unmet_names_a_missing_pin_and_a_version_out_of_range():
    requires = {'a': ['b>=2', 'c; python_version < "3"', 'd; extra == "dev"'],
                'b': ['e'], 'e': []}.__getitem__
    assert unmet({'a': '1', 'b': '2', 'e': '1'}, requires=requires) == []
    assert unmet({'a': '1', 'b': '1.5', 'e': '1'}, requires=requires) == [
        'a requires b>=2; the lock pins 1.5']
    assert unmet({'a': '1', 'b': '2'}, requires=requires) == [
        'b requires e; the lock pins nothing']


def test_unmet_follows_extras_of_requirements_and_of_roots():
    requires = {'p': ['a', 'x; extra == "tests"'], 'a': ['b[gpu]'],
                'b': ['c; extra == "gpu"', 'd; extra == "doc"'], 'c': [], 'x': []}.__getitem__
    locked = {'a': '1', 'b': '1', 'x': '1'}
    assert unmet(locked, requires=requires) == [
        'b[gpu] requires c; extra == "gpu"; the lock pins nothing']
    assert unmet(dict(locked, c='1'), [('p', 'tests')], requires) == []
    assert unmet({'a': '1', 'b': '1', 'c': '1'}, [('p', ''), ('p', 'tests')],
                 requires) == ['p[tests] requires x; extra == "tests"; the lock pins nothing']


def test_a_line_that_is_not_a_pin_is_named(tmp_path):
    lock = tmp_path / 'lock.txt'
    lock.write_text('# header\na==1\nb @ file:///wheel.whl\n')
    with pytest.raises(ValueError, match="'b @ file:///wheel.whl' is not a name==version"):
        pins(str(lock))


FREEZE = '-m pip freeze --all --exclude-editable'  # what make lock must call


def _make_lock(tmp_path, freeze_script: str):
    """``make lock`` in a copy of the Makefile and the files its set-up stamp
    depends on, with a venv whose ``python`` runs ``freeze_script`` (a shell
    body) for pip's freeze and fails for anything else, and whose stamp is
    current; returns (the run, the lock's path). The outer make's flags
    (``make test`` runs pytest) are not passed on."""
    work = tmp_path / 'checkout'
    (work / 'requirements').mkdir(parents=True)
    for name in ('Makefile', 'setup.py', 'requirements.txt', 'requirements/lock.txt'):
        shutil.copyfile(osp.join(ROOT, name), work / name)
    python = work / 'venv' / 'bin' / 'python'
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\n[ "$*" = "{FREEZE}" ] || '
                      '{ echo "unexpected call: $*" >&2; exit 99; }\n' + freeze_script)
    python.chmod(0o755)
    (work / 'venv' / '.asda-installed').touch()  # newer than what it depends on
    env = {k: v for k, v in os.environ.items()
           if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL')}
    run = subprocess.run(['make', '-C', str(work), 'lock', 'VENV=venv'], env=env,
                         capture_output=True, text=True, timeout=60)
    assert 'unexpected call' not in run.stderr, run.stderr
    return run, work / 'requirements' / 'lock.txt'


def test_make_lock_writes_the_freeze_without_pip_and_this_project(tmp_path):
    run, lock = _make_lock(tmp_path, 'printf "a==1\\npip==25.0\\nasda-mmseg==0.1\\nb==2\\n"\n')
    assert run.returncode == 0, run.stderr
    lines = lock.read_text().splitlines()
    assert lines[0].startswith('# Exact stack') and lines[1:] == ['a==1', 'b==2']
    assert sorted(p.name for p in lock.parent.iterdir()) == ['lock.txt']


@pytest.mark.parametrize('freeze, message', [
    # pip fails half-way: it printed a line, then died
    ('echo "a==1"; echo "pip broke" >&2; exit 3\n', 'pip broke'),
    # pip lists nothing the lock would pin
    ('echo "pip==25.0"\n', 'pip freeze listed nothing to pin'),
])
def test_make_lock_leaves_the_lock_whole_when_the_freeze_fails(tmp_path, freeze, message):
    """make stops with the reason before the lock is touched: no lock cut to
    its header, no file left beside it."""
    run, lock = _make_lock(tmp_path, freeze)
    assert run.returncode != 0 and message in run.stderr, run.stderr
    with open(osp.join(ROOT, 'requirements', 'lock.txt')) as f:
        assert lock.read_text() == f.read()
    assert sorted(p.name for p in lock.parent.iterdir()) == ['lock.txt']
