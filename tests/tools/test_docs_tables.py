"""tools/misc/docs_tables.py: every result table of the README and docs/ is
what the tool makes from its committed source, and a changed figure shows."""
import json
import os
import os.path as osp
import shutil

import pytest
from asda_test_utils import ROOT, load_tool


@pytest.fixture
def tool():
    return load_tool('tools/misc/docs_tables.py', 'asda_docs_tables')


def test_every_generated_table_matches_its_source(tool):
    assert tool.stale_tables() == []
    used = set()
    for doc in tool.DOCS:
        if not osp.isfile(osp.join(ROOT, doc)):
            continue
        with open(osp.join(ROOT, doc), encoding='utf-8') as f:
            used |= {m.group(2) for m in tool._BLOCK.finditer(f.read())}
    assert used == set(tool.TABLES), 'a table generator no document uses, or the reverse'


def _copy(tmp_path) -> str:
    """The docs, result files and provenance files, in a scratch root."""
    root = tmp_path / 'repo'
    for rel in ['README.md', 'docs', 'checkpoints']:
        src = osp.join(ROOT, rel)
        if osp.isdir(src):
            shutil.copytree(src, root / rel, ignore=shutil.ignore_patterns('*.pt', '*.pth',
                                                                            '*.png'))
        else:
            os.makedirs(root, exist_ok=True)
            shutil.copy(src, root / rel)
    return str(root)


def test_check_fails_when_one_figure_changes(tool, tmp_path, monkeypatch, capsys):
    root = _copy(tmp_path)
    monkeypatch.setattr(tool, 'ROOT', root)
    assert tool.main(['--check']) == 0
    demo = osp.join(root, tool.DEMO)
    with open(demo, encoding='utf-8') as f:
        record = json.load(f)
    record['metrics']['val']['oIoU'] += 0.01
    with open(demo, 'w', encoding='utf-8') as f:
        json.dump(record, f)
    assert tool.main(['--check']) == 1
    out = capsys.readouterr().out
    assert 'stale table: README.md: demo' in out or 'stale table: docs/demo.md: demo' in out
    assert tool.main([]) == 0  # rewrites the tables
    assert tool.main(['--check']) == 0


def test_record_makes_paths_portable_and_nests_keys(tool, tmp_path, monkeypatch):
    root = tmp_path / 'repo'
    os.makedirs(root / 'docs' / 'results')
    monkeypatch.setattr(tool, 'ROOT', str(root))
    run = tmp_path / 'metrics.json'
    run.write_text(json.dumps(dict(checkpoint=f'{root}/work_dirs/t/epoch_12.pth',
                                   config='/elsewhere/cfg.py', metrics=dict(val=1.5))))
    tool.main(['record', 'table2', str(run), '--key', 'rows', '--key', 'a'])
    tool.main(['record', 'table2', str(run), '--key', 'rows', '--key', 'b'])
    saved = json.loads((root / 'docs' / 'results' / 'table2.json').read_text())
    assert set(saved['rows']) == {'a', 'b'}
    assert saved['rows']['a'] == dict(checkpoint='work_dirs/t/epoch_12.pth',
                                      config='cfg.py', metrics=dict(val=1.5))
    with pytest.raises(SystemExit):
        tool.parse_args(['record', 'x', str(tmp_path / 'missing.json')])
    with pytest.raises(ValueError, match='NAME'):
        tool.record('../x', str(run))


def test_record_writes_strict_json_with_non_finite_as_null(tool, tmp_path, monkeypatch):
    root = tmp_path / 'repo'
    os.makedirs(root / 'docs' / 'results')
    monkeypatch.setattr(tool, 'ROOT', str(root))
    run = tmp_path / 'metrics.json'
    # json.dumps writes NaN (a rate of an empty set, e.g. N-acc of the
    # target expressions), which strict JSON readers refuse
    run.write_text(json.dumps(dict(val_by_form=dict(single={'N-acc': float('nan'),
                                                            'T-acc': 99.5}),
                                   curve=[float('nan'), 1.0, float('inf'), -float('inf')])))
    tool.main(['record', 'gres', str(run)])
    text = (root / 'docs' / 'results' / 'gres.json').read_text()
    assert 'NaN' not in text and 'Infinity' not in text and text.endswith('}\n')
    saved = json.loads(text)
    assert saved['val_by_form']['single'] == {'N-acc': None, 'T-acc': 99.5}
    assert saved['curve'] == [None, 1.0, None, None]
    assert tool._f(saved['val_by_form']['single']['N-acc']) == '-'
