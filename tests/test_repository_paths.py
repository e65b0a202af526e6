"""The repository is self-contained: no tracked file points outside it, and
every repository path that the README and docs/ name exists."""
import fnmatch
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


# ------------------------------------------------------------------ layout
# The repository has one layout listing, in docs/design.md: it names every
# module of the package, every tool and demo script, the leaf configs and the
# top-level test helpers, and no other page has one. A listing is the first
# code block after "## Layout": an entry is a
# line, indented by at most 4 spaces, whose first word is a path with a '/'
# (a folder, `models/necks/`, or a file, `models/layers.py`), relative to the
# entry above it that is indented less; the lines below an entry that are not
# entries continue it. The file names of an entry and of its continuation lines
# are the files it names: a bare name (`afsf.py`, `dist_*.sh`) lies in the
# entry's folder, a name with a '/' is relative to the folder the entry itself
# is relative to.
LAYOUT_DOCS = ('docs/design.md',)
_NAME = re.compile(r'[\w.+*-]+(?:/[\w.+*-]+)*\.(?:py|sh)$')
_ENTRY_INDENT = 4


def layout_block(text: str) -> str:
    """The first code block of the "## Layout" section."""
    section = text.split('\n## Layout\n', 1)[1]
    return re.search(r'```\n(.*?)```', section, flags=re.S).group(1)


def _names(words):
    for word in words:
        word = word.strip('`(),;:')
        if _NAME.match(word):
            yield word


def layout_names(block: str):
    """The repository paths (globs allowed) a layout listing names."""
    named = set()
    parents = []  # (indent, folder) of the entries above, innermost last
    folder = base = None
    for line in block.splitlines():
        words = line.split()
        if not words:
            continue
        indent = len(line) - len(line.lstrip(' '))
        if indent <= _ENTRY_INDENT and '/' in words[0]:
            while parents and parents[-1][0] >= indent:
                parents.pop()
            base = parents[-1][1] if parents else ''
            first = words[0].strip('`(),;:')
            folder = base + (first if first.endswith('/')
                             else first.rpartition('/')[0] + '/')
            parents.append((indent, folder))
        elif folder is None:
            continue
        for name in _names(words):
            named.add(base + name if '/' in name else folder + name)
    return named


def _listed_files():
    """What a layout listing must name."""
    files = []
    for rel in _tracked_files():
        parts = rel.split('/')
        name = parts[-1]
        if rel.startswith('projects/asda/') and rel.endswith('.py') and \
                (name != '__init__.py' or len(parts) == 3):
            files.append(rel)
        elif (parts[0] in ('tools', 'demo') and rel.endswith(('.py', '.sh'))) or (
                len(parts) == 3 and rel.startswith('configs/asda/')):
            files.append(rel)
        elif len(parts) == 2 and parts[0] == 'tests' and \
                rel.endswith('.py') and not name.startswith('test_'):
            files.append(rel)
    return files


@pytest.mark.parametrize('doc', LAYOUT_DOCS)
def test_layout_names_every_module(doc):
    with open(osp.join(ROOT, doc)) as f:
        named = layout_names(layout_block(f.read()))
    files = _listed_files()
    assert 'projects/asda/compat.py' in files and 'tools/train.py' in files
    unnamed = [rel for rel in files
               if not any(fnmatch.fnmatchcase(rel, n) for n in named)]
    assert not unnamed, f'the Layout of {doc} does not name {unnamed}'


def test_layout_names_reads_entries_and_continuations():
    block = ('projects/asda/      the package\n'
             '  compat.py           the layer\n'
             '  models/necks/       afsf.py (AFSF),\n'
             '                      feature_adapter.py\n'
             '  models/layers.py    shared layers\n'
             '  datasets/refs_io.py, text.py\n'
             '                      see tools/test.py\n'
             'tools/              train.py, dist_*.sh\n'
             '  misc/               publish_model.py\n')
    assert layout_names(block) == {
        'projects/asda/compat.py', 'projects/asda/models/necks/afsf.py',
        'projects/asda/models/necks/feature_adapter.py',
        'projects/asda/models/layers.py', 'projects/asda/datasets/refs_io.py',
        'projects/asda/datasets/text.py', 'projects/asda/tools/test.py',
        'tools/train.py', 'tools/dist_*.sh', 'tools/misc/publish_model.py'}


def _absolute_paths(obj, where=''):
    """(where, value) of every string in a JSON value that holds an
    absolute path of a machine (a word starting with '/' or a drive)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _absolute_paths(v, f'{where}.{k}')
    elif isinstance(obj, list):
        for k, v in enumerate(obj):
            yield from _absolute_paths(v, f'{where}[{k}]')
    elif isinstance(obj, str):
        for word in obj.split():
            if word.startswith('/') or re.match(r'^[A-Za-z]:[\\/]', word):
                yield where, obj


def test_no_committed_json_holds_a_machine_path():
    """Result and provenance files name files relative to the checkout:
    no absolute path of the machine that wrote them."""
    import json
    found = []
    for path in _tracked_files():
        if path.endswith('.json'):
            with open(osp.join(ROOT, path), encoding='utf-8') as f:
                found += [(path, *hit) for hit in _absolute_paths(json.load(f))]
    assert not found, found


def test_absolute_paths_finds_them():
    hits = list(_absolute_paths({'a': ['x', 'python /work/x/tool.py --out y'],
                                 'b': {'c': 'C:\\data'}, 'd': 'rel/path', 'e': 3}))
    assert [w for w, _ in hits] == ['.a[1]', '.b.c']


# ----------------------------------------------------------------- anchors
def heading_anchors(text: str):
    """The anchors GitHub gives the headings of a Markdown text: lower case,
    punctuation dropped (hyphens and underscores kept), spaces to hyphens;
    a repeated heading gets -1, -2, ..."""
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    anchors, seen = set(), {}
    for title in re.findall(r'^#+ +(.+?) *$', text, flags=re.M):
        slug = re.sub(r'[^\w\- ]', '', title.lower()).replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def broken_anchors(doc: str, text: str):
    """Links of ``doc`` (``[x](page.md#anchor)``, ``[x](#anchor)``) whose
    anchor is no heading of the page they point to."""
    broken = []
    for target, anchor in re.findall(r'\]\(([^)\s#]*)#([^)\s]+)\)', text):
        page = osp.normpath(osp.join(osp.dirname(doc), target)) if target else doc
        path = osp.join(ROOT, page)
        if not page.endswith('.md') or not osp.isfile(path):
            continue
        with open(path, encoding='utf-8') as f:
            if anchor not in heading_anchors(f.read()):
                broken.append(f'{target}#{anchor}')
    return broken


@pytest.mark.parametrize('doc', [d for d in DOCS if d.startswith('docs/')])
def test_every_link_to_a_section_finds_it(doc):
    with open(osp.join(ROOT, doc), encoding='utf-8') as f:
        assert not broken_anchors(doc, f.read())


def test_heading_anchors_follow_github():
    text = ('# Title\n## Training recipe (paper Sec. 4.2)\n'
            '### Generalized RIS (gRefCOCO): `GRESMetric`\n## Title\n'
            '```\n# not a heading\n```\n')
    assert heading_anchors(text) == {'title', 'training-recipe-paper-sec-42',
                                     'generalized-ris-grefcoco-gresmetric', 'title-1'}
    assert broken_anchors('docs/x.md', '[a](#title) [b](design.md#no-such-section)') == \
        ['design.md#no-such-section']


def test_one_layout_listing():
    """The repository's layout is listed once, in docs/design.md: no other
    page has a Layout section to drift from it."""
    others = [doc for doc in DOCS if doc not in LAYOUT_DOCS and
              '\n## Layout\n' in open(osp.join(ROOT, doc), encoding='utf-8').read()]
    assert LAYOUT_DOCS == ('docs/design.md',) and not others, others
