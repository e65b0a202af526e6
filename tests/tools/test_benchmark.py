"""tools/analysis_tools/benchmark.py runs end to end on the tiny config."""
import json

from asda_test_utils import DEMO_CONFIG, load_tool


def test_benchmark_tiny(tmp_path, capsys):
    tool = load_tool('tools/analysis_tools/benchmark.py', 'benchmark')
    out = tmp_path / 'bench.json'
    tool.main([DEMO_CONFIG, '--batch-size', '1', '2', '--repeat', '1',
               '--train-repeat', '1', '--warmup', '0', '--threads', '1',
               '--out', str(out)])
    report = json.loads(out.read_text())
    assert [r['batch_size'] for r in report['results']] == [1, 2]
    for entry in report['results']:
        for mode in ('inference', 'train'):
            for name in ('full', 'bare'):
                stats = entry[mode][name]
                assert stats['median_ms'] > 0 and stats['peak_mb'] > 0
            assert entry[mode]['ratio'] > 0
    flops = report['flops']
    assert len(report['input']) == 2 and report['context_length'] == 17
    full, bare = flops['full'], flops['bare']
    assert full['backbone']['flops'] > 0 and full['decode_head']['flops'] > 0
    assert full['backbone.visual']['flops'] + full['backbone.text']['flops'] \
        == full['backbone']['flops']
    # the bare towers carry ln_post and the projections the backbone drops
    assert bare['total']['flops'] >= full['backbone']['flops']
    assert bare['total']['params'] >= full['backbone']['params']
    table = capsys.readouterr().out
    assert 'bare' in table and 'neck + head' in table
