"""docs/performance.md: every table is what tools/misc/docs_tables.py makes
from its committed result file, a changed figure shows, every result file
names the machine, the command and the date of its figures, and the prose
quotes no figure (it points at the tables)."""
import json
import os.path as osp
import re
import shutil

import pytest
from asda_test_utils import ROOT, load_tool

DOC = 'docs/performance.md'
#: The tables of the page and their result files.
SOURCES = {
    'flops-vitb': 'flops_vitb.json', 'benchmark-vitb-cpu': 'benchmark_vitb_cpu.json',
    'benchmark-vitb-gpu': 'benchmark_vitb_gpu.json', 'neck-head-ops': 'neck_head_ops.json',
    'training-time': 'training_time_vitb.json', 'data-pipeline': 'benchmark_data.json',
}


@pytest.fixture
def tool():
    return load_tool('tools/misc/docs_tables.py', 'asda_docs_tables_performance')


def _text(root=ROOT):
    with open(osp.join(root, DOC), encoding='utf-8') as f:
        return f.read()


def test_every_table_of_the_page_is_generated_from_its_source(tool):
    names = [m.group(2) for m in tool._BLOCK.finditer(_text())]
    assert sorted(names) == sorted(SOURCES)
    assert DOC in tool.DOCS
    assert tool.stale_tables([DOC]) == []
    for name, source in SOURCES.items():
        assert f'docs/results/{source}' in tool.TABLES[name]()


def test_one_changed_figure_makes_its_table_stale(tool, tmp_path, monkeypatch):
    root = tmp_path / 'repo'
    shutil.copytree(osp.join(ROOT, 'docs'), root / 'docs',
                    ignore=shutil.ignore_patterns('*.png'))
    monkeypatch.setattr(tool, 'ROOT', str(root))
    assert tool.stale_tables([DOC]) == []
    path = root / 'docs' / 'results' / 'benchmark_vitb_cpu.json'
    bench = json.loads(path.read_text())
    bench['runs']['batch 1 and 8']['batches']['8']['full']['inference_ms'] += 0.1
    path.write_text(json.dumps(bench))
    assert tool.stale_tables([DOC]) == [f'{DOC}: benchmark-vitb-cpu']
    assert tool.rewrite([DOC]) == [DOC]
    assert '| 8 | full ASDA | 7490.7 |' in _text(str(root))
    assert tool.stale_tables([DOC]) == []


def _commands(entry: dict):
    for key, value in entry.items():
        if key in ('command', 'commands'):
            yield value
        elif isinstance(value, dict):
            yield from _commands(value)


@pytest.mark.parametrize('source', sorted(SOURCES.values()))
def test_every_result_file_names_machine_command_and_date(source):
    with open(osp.join(ROOT, 'docs', 'results', source), encoding='utf-8') as f:
        entry = json.load(f)
    assert entry.get('machine'), f'{source}: no machine'
    assert list(_commands(entry)), f'{source}: no command'
    dates = [entry.get('date')] + [run.get('date') for run in entry.get('runs', {}).values()]
    assert any(dates), f'{source}: no date'


#: A figure with a unit or a decimal point.
_FIGURE = re.compile(r'\b\d[\d,]*(\.\d+)?\s*(ms|s|GB|MB|%|h|min|img/s|samples/s)(?!\w)'
                     r'|\b\d+\.\d+\b')


def prose_figures(text: str):
    """The figures quoted outside the generated tables and the code blocks."""
    text = re.sub(r'<!-- table: .*?<!-- end table -->', '', text, flags=re.S)
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    return [m.group(0) for m in _FIGURE.finditer(text)]


def test_the_prose_quotes_no_figure():
    assert prose_figures(_text()) == []
    assert prose_figures('it takes 0.13 s, 7.0 GB, 6.4%; batch 14\n'
                         '<!-- table: x -->\n| 1.5 ms |\n<!-- end table -->\n'
                         '```\nrun 2.5 s\n```\n') == ['0.13 s', '7.0 GB', '6.4%']
