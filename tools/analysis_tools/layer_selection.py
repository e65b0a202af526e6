"""Which layers does AFS pick? Counts per candidate layer over a split.

    python tools/analysis_tools/layer_selection.py CONFIG CHECKPOINT \
        [--split val] [--out-dir DIR] [--batch-size 8] [--device cpu]

Runs the model over every expression of the test dataset's split (the
config's ``test_dataloader.dataset``, ``--split`` to change it), collects
the low and mid layer AFS selected for each, prints a table (layer -> count,
share) per group and writes into ``--out-dir``:

* ``layer_selection.png``: a histogram per group (matplotlib, Agg);
* ``layer_selection.json``: the counts and one record per expression
  (``ref_id``, ``sent_id``, ``text``, ``low``, ``mid``).
"""
import argparse
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Sequence

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from asda.apis import RISInferencer
from asda.engine import add_data_args, apply_data_args
from asda.utils.arg_types import positive_int
from asda.utils.atomic import write_json

GROUPS = ('low', 'mid')


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Histogram of the layers AFS selects over a split')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--split', help='split of the test dataset (val, '
                        'testA, ...); default: the config\'s')
    parser.add_argument('--out-dir', default='work_dirs/layer_selection',
                        help='where to write the histogram and the records')
    parser.add_argument('--batch-size', type=positive_int, default=8,
                        help='expressions per forward pass')
    parser.add_argument('--max-samples', type=positive_int,
                        help='only the first N expressions')
    parser.add_argument('--device', default='cpu',
                        help='where the model runs, e.g. cpu, cuda:0 (default cpu)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value')
    add_data_args(parser)
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def build_dataset(cfg: Config, split=None, args=None):
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import DATASETS
    if args is not None:
        apply_data_args(cfg, args.data_root, args.skip_bad_samples,
                        not args.no_image_check)
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    if split is not None:
        dataset_cfg['split'] = split
    dataset_cfg['pipeline'] = []  # only the data list is read
    dataset_cfg['lazy_init'] = False
    return DATASETS.build(dataset_cfg)


def candidate_layers(model) -> Dict[str, Sequence[int]]:
    neck = getattr(model, 'neck', None)
    out = {}
    for group in GROUPS:
        layers = getattr(neck, f'{group}_layers', None)
        if not layers:
            raise ValueError(f'the model\'s neck ({type(neck).__name__}) has '
                             f'no {group}_layers: no AFS selection to count')
        out[group] = tuple(int(v) for v in layers)
    return out


def format_table(counts: Dict[str, Counter], candidates: Dict[str, Sequence[int]],
                 total: int) -> str:
    lines = [f'{"group":<6} {"layer":>5} {"count":>7} {"share":>8}']
    for group in GROUPS:
        for layer in candidates[group]:
            n = counts[group].get(layer, 0)
            share = 100.0 * n / total if total else 0.0
            lines.append(f'{group:<6} {layer:>5} {n:>7} {share:>7.1f}%')
    lines.append(f'{total} expressions')
    return '\n'.join(lines)


def plot_histogram(counts: Dict[str, Counter],
                   candidates: Dict[str, Sequence[int]], total: int,
                   out_file: str, title: str = '') -> None:
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(GROUPS), figsize=(4 * len(GROUPS), 3.2),
                             squeeze=False)
    for ax, group in zip(axes[0], GROUPS):
        layers = list(candidates[group])
        values = [counts[group].get(layer, 0) for layer in layers]
        shares = [100.0 * v / total if total else 0.0 for v in values]
        bars = ax.bar([str(v) for v in layers], shares, color='tab:blue')
        for bar, n in zip(bars, values):
            ax.annotate(str(n), (bar.get_x() + bar.get_width() / 2,
                                 bar.get_height()),
                        ha='center', va='bottom', fontsize=8)
        ax.set_xlabel(f'{group} layer')
        ax.set_ylabel('share of expressions (%)')
        ax.set_ylim(0, 105)
        ax.set_title(f'AFS {group} group')
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    inferencer = RISInferencer(
        args.config, args.checkpoint, device=args.device,
        batch_size=args.batch_size, cfg_options=args.cfg_options)
    cfg = inferencer.cfg
    candidates = candidate_layers(inferencer.model)
    dataset = build_dataset(cfg, args.split, args)
    split = dataset.split if hasattr(dataset, 'split') else args.split
    num = len(dataset) if args.max_samples is None else \
        min(len(dataset), args.max_samples)
    if num == 0:
        raise ValueError(f'no expression in split {split!r}')

    # Expressions grouped by image: each image is decoded once.
    infos = [dataset.get_data_info(i) for i in range(num)]
    by_image: Dict[str, List[int]] = {}
    for i, info in enumerate(infos):
        by_image.setdefault(info['img_path'], []).append(i)
    paths = list(by_image)
    results = inferencer(
        images=paths,
        expressions=[[infos[i]['text'] for i in by_image[p]] for p in paths])
    order = [i for p in paths for i in by_image[p]]

    records = [None] * num
    counts = {group: Counter() for group in GROUPS}
    for i, result in zip(order, results):
        if result['afs_layers'] is None:
            raise ValueError('the model reports no AFS layers (afs_layers)')
        low, mid = result['afs_layers']
        counts['low'][low] += 1
        counts['mid'][mid] += 1
        info = infos[i]
        records[i] = dict(ref_id=info.get('ref_id'),
                          sent_id=info.get('sent_id'), text=info['text'],
                          low=low, mid=mid)

    table = format_table(counts, candidates, num)
    print(f'AFS layer selection, split {split!r}:\n{table}')
    os.makedirs(args.out_dir, exist_ok=True)
    png = osp.join(args.out_dir, 'layer_selection.png')
    plot_histogram(counts, candidates, num, png,
                   title=f'{osp.basename(args.config)}, split {split} '
                   f'({num} expressions)')
    summary = dict(
        config=args.config, checkpoint=args.checkpoint, split=split,
        num_expressions=num,
        counts={g: {str(layer): counts[g].get(layer, 0)
                    for layer in candidates[g]} for g in GROUPS},
        records=records)
    write_json(osp.join(args.out_dir, 'layer_selection.json'), summary)
    print(f'histogram: {png}')
    return summary


if __name__ == '__main__':
    main()
