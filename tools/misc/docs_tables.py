"""The result tables of the README and docs/, generated from committed result
files: a figure lives in one file, and every table that shows it is made
from that file by this tool.

    python tools/misc/docs_tables.py            # rewrite the generated tables
    python tools/misc/docs_tables.py --check    # exit 1 naming each that differs
    python tools/misc/docs_tables.py record NAME RESULTS_JSON [--key KEY ...]

A generated table sits in a Markdown file between ``<!-- table: NAME -->``
and ``<!-- end table -->``; NAME is one of :data:`TABLES`, and the lines in
between are the table and a line naming its source files. ``record`` copies
a run's results (the ``metrics.json`` of ``make demo``, a benchmark's JSON)
into ``docs/results/NAME.json``, under ``--key`` keys if given (a Table 2
row and seed), with absolute paths made relative to the checkout
(:func:`asda.utils.provenance.portable_paths`); the tables are then
regenerated from it.

Sources: the committed models' provenance files
(``checkpoints/tiny_clip_synthetic.json``: stage one;
``checkpoints/asda_tiny_synthetic.json``: ``make demo``'s model) and
``docs/results/*.json``.
"""
import argparse
import json
import os.path as osp
import re
import sys
from typing import Callable, Dict, List, Optional, Sequence

from asda.utils.atomic import atomic_write, write_json
from asda.utils.provenance import portable_paths

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = 'docs/results'
STAGE_ONE = 'checkpoints/tiny_clip_synthetic.json'
DEMO = 'checkpoints/asda_tiny_synthetic.json'
#: The Markdown files that hold generated tables.
DOCS = ('README.md', 'docs/demo.md', 'docs/performance.md')
_BLOCK = re.compile(r'(<!-- table: ([\w-]+) -->\n)(.*?)(<!-- end table -->)', re.S)
RIS_KEYS = ('oIoU', 'mIoU', 'Pr@0.5', 'Pr@0.7', 'Pr@0.9')
GRES_KEYS = ('gIoU', 'cIoU', 'N-acc', 'T-acc')
CONTROL = 'val (swapped expressions)'


def load(path: str) -> dict:
    """A result file (relative to the checkout)."""
    with open(osp.join(ROOT, path), encoding='utf-8') as f:
        return json.load(f)


def _row(cells: Sequence) -> str:
    return '| ' + ' | '.join(str(c) for c in cells) + ' |'


def _table(header: Sequence[str], rows: List[Sequence], sources: Sequence[str]) -> str:
    lines = [_row(header), _row(['---'] * len(header))] + [_row(r) for r in rows]
    # links relative to the root; render() adjusts them to the file's folder
    names = ', '.join(f'[`{s}`]({s})' for s in sources)
    return '\n'.join(lines) + f'\n\nSource: {names}.\n'


def _f(value: Optional[float], digits: int = 2) -> str:
    """A figure to ``digits`` decimals; '-' for none (or NaN: a rate of an
    empty set, such as N-acc of the target expressions)."""
    return '-' if value is None or value != value else f'{value:.{digits}f}'


# ------------------------------------------------------------------ tables
def stage_one_table() -> str:
    """Stage one's committed CLIP: shape probe, twins, retrieval, text
    cosines."""
    z = load(STAGE_ONE)['zero_shot']
    rows = [[f'shape probe, layer {k} ({v["group"]})', _f(v['accuracy'], 1), '20']
            for k, v in z['shape_probe'].items()]
    rows += [[f'{kind} twin (image-caption score, true vs twin caption)',
              _f(z[f'{kind}_negative_acc'], 1), '50']
             for kind in ('shape', 'position', 'size')]
    rows.append([f'retrieval top-1 among {z["num_heldout"]}', _f(z['retrieval_top1'], 1),
                 _f(z['chance_top1'], 1)])
    rows += [[f'text cosine "{a}" / "{b}"', _f(z['text_cosines'][name], 3), '']
             for name, (a, b) in _text_pairs().items()]
    return _table(['measure', 'value (%, cosine)', 'chance'], rows, [STAGE_ONE])


def _text_pairs() -> Dict[str, tuple]:
    from asda.synthetic.probes import TEXT_PAIRS
    return TEXT_PAIRS


def demo_table() -> str:
    """``make demo`` (stage one, the committed model) beside random init."""
    ours, rand = load(DEMO), load(f'{RESULTS}/demo_random_init.json')
    rows = []
    for split in ('val', 'testA', 'testB', CONTROL):
        m, r = ours['metrics'][split], rand['metrics'].get(split, {})
        rows.append([split] + [_f(m[k]) for k in RIS_KEYS] +
                    [_f(r.get('oIoU')), _f(r.get('mIoU'))])
    return _table(['split'] + list(RIS_KEYS) + ['random init oIoU', 'random init mIoU'],
                  rows, [DEMO, f'{RESULTS}/demo_random_init.json'])


def demo_kinds_table() -> str:
    """``make demo``'s val by expression kind, beside random init."""
    ours, rand = load(DEMO), load(f'{RESULTS}/demo_random_init.json')
    rows = [[kind, m['expressions'], _f(m['oIoU']), _f(m['mIoU']),
             _f(rand['val_by_expression_kind'].get(kind, {}).get('oIoU'))]
            for kind, m in ours['val_by_expression_kind'].items()]
    return _table(['kind', 'val expressions', 'oIoU', 'mIoU', 'random init oIoU'],
                  rows, [DEMO, f'{RESULTS}/demo_random_init.json'])


def demo_gres_table() -> str:
    """``make demo-gres`` beside random init, and the text-only control."""
    ours = load(f'{RESULTS}/demo_gres.json')
    rand = load(f'{RESULTS}/demo_gres_random_init.json')
    rows = []
    for split, m in ours['metrics'].items():
        r = rand['metrics'].get(split, {})
        rows.append([split] + [_f(m[k]) for k in GRES_KEYS] +
                    [_f(r.get(k)) for k in ('gIoU', 'N-acc', 'T-acc')])
    for form, m in ours['val_by_form'].items():
        r = rand['val_by_form'].get(form, {})
        rows.append([f'val, {form} ({m["expressions"]})'] +
                    [_f(m.get(k)) for k in GRES_KEYS] +
                    [_f(r.get(k)) for k in ('gIoU', 'N-acc', 'T-acc')])
    control = ours['text_only_control']['balanced_accuracy']
    rows.append(['text-only control (balanced accuracy, chance 50)', _f(control),
                 '', '', '', '', '', ''])
    return _table(['split'] + list(GRES_KEYS) +
                  ['random init gIoU', 'random init N-acc', 'random init T-acc'],
                  rows, [f'{RESULTS}/demo_gres.json', f'{RESULTS}/demo_gres_random_init.json'])


def _spread(values: List[float]) -> str:
    """Mean ± half the range; one value alone."""
    if len(values) == 1:
        return _f(values[0])
    mean = sum(values) / len(values)
    half = (max(values) - min(values)) / 2
    return f'{mean:.2f} ± {half:.2f}'


#: Table 2's rows: the synthetic config's name, what the row is, the
#: paper's RefCOCO val (its Table 2).
TABLE2_ROWS = {
    'a': ('table2_a_baseline', 'F_H * f_E only, CFS decoder with one output', 66.70),
    'b': ('table2_b_manual', '(a) + fixed layers 3 and 5, concatenation', 69.38),
    'c': ('table2_c_afs', '(b) with AFS choosing the layers', 71.78),
    'd': ('table2_d_afs-sfa', '(c) with SFA instead of the concatenation', 72.39),
    'e': ('table2_e_single-branch', '(d) + a transformer decoder fusing f_T', 74.65),
    'f': ('table2_f_full', '(d) + WCG and Nc response masks: the full model', 75.06),
}


def table2_table() -> str:
    """The paper's Table 2 rows on the synthetic data, from stage one:
    mean ± half the range over the seeds run (one seed: its value), beside
    the paper's RefCOCO val.
    The result file holds ``rows: {row: {seed: a demo's metrics.json}}``."""
    source = f'{RESULTS}/table2_synthetic.json'
    t2 = load(source)['rows']
    rows = []
    for row, (_, what, paper) in TABLE2_ROWS.items():
        runs = [t2[row][seed] for seed in sorted(t2.get(row, {}))]
        val = [r['metrics']['val']['oIoU'] for r in runs]
        control = [r['metrics'][CONTROL]['oIoU'] for r in runs]
        seeds = sorted(t2.get(row, {}))
        named = f'seed{"s" if len(seeds) > 1 else ""} {", ".join(seeds)}'
        rows.append([f'({row})', what, _f(paper), _spread(val) if val else '-',
                     f'{" / ".join(_f(v) for v in val)} ({named})' if val else '-',
                     _spread(control) if control else '-'])
    return _table(['row', 'what it is', 'paper, RefCOCO val', 'synthetic val oIoU',
                   'per seed', 'control oIoU'], rows, [source])


def levers_table() -> str:
    """Stage two's levers, each one run of the demo's recipe with one change."""
    source = f'{RESULTS}/stage_two_levers.json'
    levers = load(source)
    kinds = ('left/right', 'top/bottom', 'size', 'shape', 'colour')
    rows = []
    for name, entry in levers['runs'].items():
        m, k = entry['metrics'], entry['val_by_expression_kind']
        rows.append([name, _f(m['val']['oIoU']), _f(m['testA']['oIoU']),
                     _f(m['testB']['oIoU']), _f(m[CONTROL]['oIoU'])] +
                    [_f(k.get(kind, {}).get('oIoU')) for kind in kinds] +
                    [_f(entry['seconds_train'] / 60, 1)])
    return _table(['stage two', 'val', 'testA', 'testB', 'control'] + list(kinds) +
                  ['training minutes (1 thread, beside another run)'], rows, [source])


def benchmark_table() -> str:
    """The demo model's training step on the CPU: each ``--train-variants``
    setting of one benchmark run, its median and its speed-up over the
    first (``benchmark.py``'s JSON)."""
    source = f'{RESULTS}/benchmark_cpu.json'
    bench = load(source)
    entry = next(e for e in bench['results'] if 'train_variants' in e)
    rows = [[name, _f(v['median_ms'], 0), _f(v['speedup'])]
            for name, v in entry['train_variants'].items()]
    return (f'{bench["device_name"]}, {bench["threads"]} threads by default, torch '
            f'{bench["torch"]}: `{bench["command"]}`.\n\n' +
            _table([f'training step (batch {entry["batch_size"]})', 'median ms',
                    'speed-up'], rows, [source]))


# ------------------------------------------------------------ performance
def _provenance(entry: dict, *keys: str) -> str:
    """The line naming how a result file's figures were measured: its
    ``command`` / ``commands``, ``config``, ``options``, ``machine``,
    ``date`` and ``code`` where given (or ``keys``)."""
    keys = keys or ('command', 'commands', 'config', 'options', 'machine', 'date', 'code')
    parts = []
    for key in keys:
        value = entry.get(key)
        if isinstance(value, dict):
            value = '; '.join(f'{k}: `{v}`' for k, v in value.items())
        elif key == 'command' and value:
            value = f'`{value}`'
        if value:
            parts.append(f'{key.capitalize()}: {value}.')
    return ' '.join(parts) + '\n\n'


def flops_table() -> str:
    """FLOPs and parameters per part of the ViT-B/16 model, and the neck +
    head beside the backbone (ours, and the release's from its stated
    cost)."""
    source = f'{RESULTS}/flops_vitb.json'
    flops = load(source)
    parts = list(flops['parts'].items())
    rows = [[name, _f(v['gflops']), _f(v['params_m'])] for name, v in parts]
    rows.append(['total', _f(flops['total']['gflops']), _f(flops['total']['params_m'])])
    backbone = parts[0][1]['gflops']
    extra = sum(v['gflops'] for _, v in parts[1:])
    rows.append(['neck + head, % of the backbone', _f(100 * extra / backbone, 1), ''])
    release = flops['release']['gflops_multiplies_and_adds'] / 2  # -> multiply-adds
    rows.append(["the release's neck + head, % of the backbone (its stated "
                 f"{flops['release']['gflops_multiplies_and_adds']} GFLOPs / 2, less "
                 'this backbone)', _f(100 * (release - backbone) / backbone, 0), ''])
    return _provenance(flops) + _table(['part', 'GFLOPs', 'params (M)'], rows, [source])


def benchmark_vitb_cpu_table() -> str:
    """The ViT-B/16 model beside its bare CLIP encoders on a CPU: per run
    and batch, inference, a training step and its peak memory."""
    source = f'{RESULTS}/benchmark_vitb_cpu.json'
    bench = load(source)
    rows, runs = [], []
    for name, run in bench['runs'].items():
        runs.append(f'* {name} (code {run["code"]}): `{run["command"]}`; {run["repeats"]}; '
                    f'date: {run["date"]}.')
        code = run['code'].split()[0]
        for batch, entry in run['batches'].items():
            for model in ('full', 'bare'):
                m, b = entry[model], int(batch)
                peak = m.get('train_peak_mb')
                full = model == 'full'
                rows.append([
                    code, batch, 'full ASDA' if full else 'bare encoders',
                    _f(m['inference_ms'], 1), _f(b * 1000 / m['inference_ms']),
                    _f(entry['inference_ratio'], 3) if full else '',
                    _f(m['train_step_ms'], 0), _f(m['train_step_ms'] / b, 0),
                    '-' if peak is None else f'{peak} ({peak / b:.0f})',
                    _f(entry['train_ratio'], 3) if full else ''])
    header = ['code', 'batch', 'model', 'inference ms', 'img/s', 'inference full / bare',
              'train step ms', 'ms/img', 'train peak MB (per img)', 'train full / bare']
    return (f'Machine: {bench["machine"]}.\n\n' + '\n'.join(runs) + '\n\n' +
            _table(header, rows, [source]))


def benchmark_vitb_gpu_table() -> str:
    """The ViT-B/16 model beside its bare CLIP encoders on a GPU."""
    source = f'{RESULTS}/benchmark_vitb_gpu.json'
    bench = load(source)
    rows = []
    for r in bench['rows']:
        peak = r.get('train_peak_mb_per_image_full')
        rows.append([r['mode'], r['batch'], _f(r['inference_full_ms'], 1),
                     _f(r['inference_bare_ms'], 1), _f(r['inference_ratio']),
                     f'{r["train_full_ms"]} / {r["train_bare_ms"]}', _f(r['train_ratio']),
                     '-' if peak is None else
                     f'{peak} / {r["train_peak_mb_per_image_bare"]}'])
    header = ['mode', 'batch', 'inference full ms', 'inference bare ms', 'inference ratio',
              'train step full / bare ms', 'train ratio', 'train peak MB per image, full / bare']
    return _provenance(bench) + _table(header, rows, [source])


def neck_head_ops_table() -> str:
    """ATen operator calls of the neck and head in one training step."""
    source = f'{RESULTS}/neck_head_ops.json'
    ops = load(source)
    rows = [[name, v['forward'], v['backward']] for name, v in ops['configs'].items()]
    return _provenance(ops) + _table(['config', 'forward (neck, head, loss)', 'backward'],
                                     rows, [source])


def training_time_table() -> str:
    """Time per iteration and memory measured on one GPU, and the paper's
    recipe on 2 GPUs extrapolated from them."""
    source = f'{RESULTS}/training_time_vitb.json'
    run = load(source)
    recipe = run['recipe']
    batch = run['batch_size_per_gpu'] * recipe['gpus']
    per_epoch = -(-recipe['train_expressions'] // batch)  # ceil
    total = per_epoch * recipe['epochs']
    step = run['seconds_per_iteration']
    b = run['batch_size_per_gpu']
    rows = [
        [f'time per iteration, batch {b}', f'{step} s', f'measured: {run["machine"]}'],
        [f'GPU memory, batch {b}', f'{run["gpu_memory_gb"]} GB', 'measured: the same run'],
        ['iterations per epoch', f'{per_epoch:,}',
         f'ceil({recipe["train_expressions"]:,} expressions / batch {batch})'],
        [f'one epoch on {recipe["gpus"]} GPUs', f'about {per_epoch * step / 60:.1f} min',
         f'**extrapolation**: {per_epoch:,} x {step} s, assuming an iteration of '
         f'{b} per GPU on {recipe["gpus"]} GPUs takes as long as on one'],
        [f'{recipe["epochs"]} epochs on {recipe["gpus"]} GPUs',
         f'about {total * step / 3600:.1f} h',
         f'**extrapolation**: {total:,} x {step} s; without the validation after each epoch, '
         'the gradient all-reduce and the decoding of real COCO JPEGs, none of which was '
         'measured'],
    ]
    return (_provenance(run, 'command', 'config', 'date') +
            _table(['what', 'figure', 'where it comes from'], rows, [source]))


def data_pipeline_table() -> str:
    """Throughput of the training data pipeline, one worker."""
    source = f'{RESULTS}/benchmark_data.json'
    run = load(source)
    value = f'{run["samples_per_second_per_worker"]:,}'
    rows = [['RefCOCO dataset config, 416 x 416, synthetic images',
             f'about {value}' if run.get('approximate') else value]]
    return _provenance(run) + _table(['pipeline', 'samples/s per worker'], rows, [source])


#: Table name -> its generator.
TABLES: Dict[str, Callable[[], str]] = {
    'stage-one': stage_one_table, 'demo': demo_table, 'demo-kinds': demo_kinds_table,
    'demo-gres': demo_gres_table, 'table2-synthetic': table2_table,
    'stage-two-levers': levers_table, 'benchmark-cpu': benchmark_table,
    'flops-vitb': flops_table, 'benchmark-vitb-cpu': benchmark_vitb_cpu_table,
    'benchmark-vitb-gpu': benchmark_vitb_gpu_table, 'neck-head-ops': neck_head_ops_table,
    'training-time': training_time_table, 'data-pipeline': data_pipeline_table,
}


# -------------------------------------------------------------- documents
def render(doc: str, text: str) -> str:
    """``text`` (the Markdown file ``doc``) with each table block made anew;
    source links are relative to the file's folder."""
    depth = doc.count('/')

    def fill(m: re.Match) -> str:
        name = m.group(2)
        if name not in TABLES:
            raise ValueError(f'{doc}: unknown table {name!r} (known: {sorted(TABLES)})')
        table = TABLES[name]()
        if depth:
            table = re.sub(r'\]\(([^)]+)\)',
                           lambda s: '](' + '../' * depth + s.group(1) + ')', table)
        return m.group(1) + table + m.group(4)

    return _BLOCK.sub(fill, text)


def _rendered(docs: Sequence[str]):
    """(doc, its text, the text with its tables made anew) of each of
    ``docs`` that exists."""
    for doc in docs:
        path = osp.join(ROOT, doc)
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                text = f.read()
            yield doc, text, render(doc, text)


def stale_tables(docs: Sequence[str] = DOCS) -> List[str]:
    """``doc: table`` for each generated table that differs from what its
    source gives."""
    stale = []
    for doc, text, new in _rendered(docs):
        old_blocks = {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}
        new_blocks = {m.group(2): m.group(3) for m in _BLOCK.finditer(new)}
        stale += [f'{doc}: {name}' for name in old_blocks
                  if old_blocks[name] != new_blocks[name]]
    return stale


def rewrite(docs: Sequence[str] = DOCS) -> List[str]:
    """Rewrite the tables of ``docs``; return the files changed."""
    changed = []
    for doc, text, new in _rendered(docs):
        if new != text:
            atomic_write(osp.join(ROOT, doc), new.encode('utf-8'))
            changed.append(doc)
    return changed


def record(name: str, results_file: str, keys: Sequence[str] = ()) -> str:
    """Copy ``results_file`` into ``docs/results/NAME.json`` (under
    ``keys``), with portable paths, as strict JSON (NaN and infinities as
    null, :func:`asda.utils.atomic.write_json`); return the file written."""
    if not re.fullmatch(r'[\w-]+', name):
        raise ValueError(f'record: NAME must be a word (letters, digits, - and _), '
                         f'got {name!r}')
    with open(results_file, encoding='utf-8') as f:
        value = portable_paths(json.load(f), ROOT)
    out = osp.join(ROOT, RESULTS, f'{name}.json')
    data: dict = {}
    if keys and osp.isfile(out):
        with open(out, encoding='utf-8') as f:
            data = json.load(f)
    if not keys:
        data = value
    else:
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    write_json(out, data, newline=True)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='change nothing; exit 1 naming each table that differs '
                        'from its source')
    sub = parser.add_subparsers(dest='command')
    rec = sub.add_parser('record', help='copy a results file into docs/results/')
    rec.add_argument('name', help='docs/results/NAME.json')
    rec.add_argument('results', help='a results JSON (e.g. work_dirs/demo/metrics.json)')
    rec.add_argument('--key', action='append', default=[],
                     help='store the results under this key (repeatable: nested)')
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == 'record' and not osp.isfile(args.results):
        parser.error(f'no such file {args.results}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == 'record':
        print(f'recorded {record(args.name, args.results, args.key)}')
        return 0
    if args.check:
        stale = stale_tables()
        for entry in stale:
            print(f'stale table: {entry} (run python tools/misc/docs_tables.py)')
        return 1 if stale else 0
    for doc in rewrite():
        print(f'rewrote the tables of {doc}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
