"""tools/analysis_tools/benchmark.py runs end to end on the tiny config (and
on CUDA when there is one) and writes the fields it documents."""
import json

import pytest
from asda_test_utils import DEMO_CONFIG, load_tool


def _run(tmp_path, *options):
    tool = load_tool('tools/analysis_tools/benchmark.py', 'benchmark')
    out = tmp_path / 'bench.json'
    tool.main([DEMO_CONFIG, '--batch-size', '1', '2', '--repeat', '1',
               '--train-repeat', '1', '--warmup', '0', '--out', str(out),
               *options])
    return json.loads(out.read_text())


def _check_report(report, device, half_dtype):
    assert report['device'] == device and report['device_name']
    assert [r['batch_size'] for r in report['results']] == [1, 2]
    for entry in report['results']:
        for mode in ('inference', 'train'):
            for name in ('full', 'bare'):
                stats = entry[mode][name]
                assert stats['median_ms'] > 0 and stats['peak_mb'] > 0
                assert stats['throughput'] > 0
            assert entry[mode]['ratio'] > 0
        half = entry.get('inference_half')
        if half_dtype is None:
            assert half is None
            continue
        assert half['dtype'] == half_dtype
        for name in ('full', 'bare'):
            assert half[name]['median_ms'] > 0 and half[name]['throughput'] > 0
        assert half['speedup'] == pytest.approx(
            entry['inference']['full']['median_ms']
            / half['full']['median_ms'])
        assert half['ratio'] > 0
    ops = report['neck_head_aten_ops']
    assert ops['forward'] > 0 and ops['backward'] > 0
    assert ops['total'] == ops['forward'] + ops['backward']
    flops = report['flops']
    assert len(report['input']) == 2 and report['context_length'] == 17
    full, bare = flops['full'], flops['bare']
    assert full['backbone']['flops'] > 0 and full['decode_head']['flops'] > 0
    assert full['backbone.visual']['flops'] + full['backbone.text']['flops'] \
        == full['backbone']['flops']
    # the bare towers carry ln_post and the projections the backbone drops
    assert bare['total']['flops'] >= full['backbone']['flops']
    assert bare['total']['params'] >= full['backbone']['params']


def test_benchmark_tiny(tmp_path, capsys, heap_pads):
    from mmengine.config import Config

    report = _run(tmp_path, '--threads', '1')
    _check_report(report, 'cpu', 'bfloat16')
    assert report['amp'] is False and report['threads'] == 1
    # timed as the runner trains: with the config's heap pad
    pad = Config.fromfile(DEMO_CONFIG).env_cfg.malloc_top_pad
    assert heap_pads == [pad] and report['malloc_top_pad'] == pad
    table = capsys.readouterr().out
    assert 'bare' in table and 'neck + head' in table
    assert 'half inference (bfloat16 autocast)' in table


@pytest.mark.gpu
def test_benchmark_cuda(tmp_path, capsys):
    report = _run(tmp_path, '--device', 'cuda')
    _check_report(report, 'cuda', 'float16')
    assert 'half inference (float16 autocast)' in capsys.readouterr().out
    amp = _run(tmp_path, '--device', 'cuda', '--amp')
    _check_report(amp, 'cuda', None)  # all of it is half precision
    assert amp['amp'] is True


def test_train_variants_are_timed_against_the_first(tmp_path):
    """--train-variants: the full model's training step in each setting,
    timed in one run; each speed-up is the first variant's median over its
    own. A malformed variant is refused at parse time."""
    tool = load_tool('tools/analysis_tools/benchmark.py', 'benchmark')
    out = tmp_path / 'bench.json'
    tool.main([DEMO_CONFIG, '--batch-size', '2', '--repeat', '1', '--train-repeat', '1',
               '--warmup', '0', '--no-memory', '--no-half', '--out', str(out),
               '--train-variants', 'fp32', 'bf16', 'fp32@1'])
    report = json.loads(out.read_text())
    variants = report['results'][0]['train_variants']
    assert list(variants) == ['fp32', 'bf16', 'fp32@1']
    first = variants['fp32']['median_ms']
    for stats in variants.values():
        assert stats['median_ms'] > 0
        assert stats['speedup'] == pytest.approx(first / stats['median_ms'])
    assert tool.train_variant('bf16+compile@2') == dict(
        name='bf16+compile@2', amp=True, compile=True, threads=2)
    for bad in ('fp16', 'bf16+jit', 'fp32@0', 'fp32@x'):
        with pytest.raises(SystemExit):
            tool.parse_args([DEMO_CONFIG, '--train-variants', bad])
