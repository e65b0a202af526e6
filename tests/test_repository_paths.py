"""The repository is self-contained: no tracked file points outside it, and
every repository path that the README and docs/ name exists."""
import os
import os.path as osp
import re
import subprocess

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
# Spelled in pieces so that this file does not match itself.
OUTSIDE = ('../' + 'shared', 'DESIGN' + '.md')
DOCS = ['README.md'] + sorted(
    osp.join('docs', f) for f in os.listdir(osp.join(ROOT, 'docs'))
    if f.endswith('.md'))
# Roots a named path may be relative to: the repository, the package.
BASES = ('', 'projects', 'projects/asda')
CHECKED_SUFFIXES = ('.py', '.sh', '.md', '.txt', '.toml', '/')
# Places a user creates, not files of the repository.
USER_DIRS = ('data/', 'work_dirs/', 'overlays/')


def _tracked_files():
    out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def named_paths(text: str):
    """Paths in `backticks` and Markdown link targets that look like
    repository files or folders (no globs, braces or placeholders)."""
    tokens = re.findall(r'`([^`\s]+)`', text) + re.findall(
        r'\]\(([^)\s#]+)\)', text)
    for block in re.findall(r'```\n(.*?)```', text, flags=re.S):
        tokens += re.findall(r'(?:^|\s)((?:projects|configs|tools|tests|docs|'
                             r'requirements|demo)/\S+)', block, flags=re.M)
    for token in tokens:
        token = token.rstrip('.,;:)')
        if any(c in token for c in '{}*<>$') or '...' in token or \
                token.startswith(('http', '-', '/', '.')) or \
                token.startswith(USER_DIRS) or \
                not token.endswith(CHECKED_SUFFIXES) or token == '/':
            continue
        yield token


def _exists(token: str, tracked_names) -> bool:
    if '/' not in token.rstrip('/'):
        return token.rstrip('/') in tracked_names or any(
            osp.exists(osp.join(ROOT, base, token)) for base in BASES)
    return any(osp.exists(osp.join(ROOT, base, token)) for base in BASES)


def test_no_tracked_file_points_outside_the_repository():
    offenders = []
    for rel in _tracked_files():
        path = osp.join(ROOT, rel)
        if not osp.isfile(path):
            continue
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8', errors='ignore')
        offenders += [f'{rel}: {s}' for s in OUTSIDE if s in text]
    assert not offenders, offenders


def test_docs_exist():
    assert 'docs/design.md' in DOCS


@pytest.mark.parametrize('doc', DOCS)
def test_every_named_path_exists(doc):
    tracked = _tracked_files()
    names = {osp.basename(p) for p in tracked}
    names |= {part for p in tracked for part in osp.dirname(p).split('/')}
    with open(osp.join(ROOT, doc)) as f:
        text = f.read()
    paths = list(named_paths(text))
    assert paths, f'{doc} names no repository path'
    missing = sorted({p for p in paths if not _exists(p, names)})
    assert not missing, f'{doc} names paths that do not exist: {missing}'


def test_named_paths_finds_missing_paths():
    text = 'see `tools/no_such_tool.py` and [x](docs/nowhere.md)\n' \
           '```\ntools/train.py\n```\n`data/coco/` `a/*.py`'
    found = list(named_paths(text))
    assert found == ['tools/no_such_tool.py', 'docs/nowhere.md', 'tools/train.py']
    names = {osp.basename(p) for p in _tracked_files()}
    assert [p for p in found if not _exists(p, names)] == found[:2]
