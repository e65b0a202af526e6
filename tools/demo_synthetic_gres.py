"""The gRefCOCO demo (``make demo-gres``): ASDA with the no-target output,
trained and evaluated on the synthetic gRefCOCO set, on a CPU, in minutes.

Steps: generate ``data/synthetic_gres`` if missing
(:mod:`asda.datasets.synthetic_gres`: expressions of one object, several or
none); train ``configs/asda/asda_tiny_synthetic_gres.py`` (from the
pretrained tiny CLIP when the config names one, as ``make demo``); evaluate
val / testA / testB with :class:`asda.GRESMetric` (gIoU, cIoU, N-acc, T-acc,
Pr@X) and break val down by form (single, multi, no-target); the
text-only control: a bag-of-words classifier of no-target vs target
expressions, trained on the train split, scored on val (balanced accuracy),
beside the model's N-acc and T-acc (the no-target decision should need the
image); write ``metrics.json`` and ``examples.png`` into the work directory
and print the tables.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import demo_synthetic as demo  # noqa: E402  (the shared demo steps)

import asda  # noqa: E402,F401  (registers the components)
from asda.datasets import load_refs  # noqa: E402
from asda.datasets.synthetic_gres import FORMS, GREFS_FILE, make_synthetic_grefcoco  # noqa: E402
from asda.evaluation import summarize_gres  # noqa: E402
from asda.evaluation.text_only_control import text_only_control_on_grefs  # noqa: E402
from asda.utils.atomic import atomic_write  # noqa: E402

METRIC_KEYS = ('gIoU', 'cIoU', 'N-acc', 'T-acc', 'Pr@0.7', 'Pr@0.9')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=osp.join(
        ROOT, 'configs/asda/asda_tiny_synthetic_gres.py'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/demo_gres'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/synthetic_gres'))
    parser.add_argument('--splits', nargs='+', default=['val', 'testA', 'testB'])
    parser.add_argument('--skip-train', action='store_true',
                        help='evaluate the last checkpoint in the work dir')
    parser.add_argument('--num-examples', type=int, default=8)
    return parser.parse_args(argv)


def ensure_dataset(data_root: str) -> str:
    """Generate the synthetic gRefCOCO set into ``data_root`` if its grefs
    file is missing; return that file's path."""
    grefs = osp.join(data_root, GREFS_FILE)
    if not osp.exists(grefs):
        print(f'[demo-gres] generating the synthetic gRefCOCO set into '
              f'{data_root}', flush=True)
        make_synthetic_grefcoco(data_root)
    return grefs


def breakdown_by_form(records_file: str, grefs: list) -> dict:
    """:func:`asda.evaluation.summarize_gres` per expression form (the
    ``kind`` the generator records: single, multi, no-target), from the
    per-expression records of ``GRESMetric(out_file=...)``."""
    forms = {s['sent_id']: s['kind'] for g in grefs
             for s in g['sentences']}
    with open(records_file) as f:
        records = json.load(f)['records']
    by_form = {}
    for rec in records:
        if rec['sent_id'] not in forms:
            raise KeyError(f'{records_file}: sent_id {rec["sent_id"]} is not '
                           'in the grefs')
        by_form.setdefault(forms[rec['sent_id']], []).append(rec)
    order = {form: i for i, form in enumerate(FORMS)}
    return {form: dict(expressions=len(recs), **summarize_gres(recs, iou_thrs=()))
            for form, recs in sorted(by_form.items(),
                                     key=lambda kv: (order.get(kv[0], 99), kv[0]))}


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    grefs = load_refs(ensure_dataset(args.data_root))  # read once
    cfg = demo.load_cfg(args)
    os.makedirs(args.work_dir, exist_ok=True)
    checkpoint = demo.trained_checkpoint(args.work_dir) if args.skip_train \
        else demo.train(cfg, args.work_dir)
    train_time = time.time() - start

    results = {}
    for split in args.splits:
        print(f'[demo-gres] evaluating {split}', flush=True)
        results[split] = demo.evaluate(
            cfg, checkpoint, split,
            out_file=osp.join(args.work_dir, f'per_expression_{split}.json'))
    forms = breakdown_by_form(osp.join(args.work_dir, 'per_expression_val.json'),
                              grefs) if 'val' in args.splits else {}
    control = text_only_control_on_grefs(grefs, 'train', 'val')
    examples = osp.join(args.work_dir, 'examples.png')
    demo.draw_examples(cfg, checkpoint, examples, args.num_examples)

    clean = {split: {k: float(v) for k, v in m.items()} for split, m in results.items()}
    summary = dict(checkpoint=checkpoint, metrics=clean, val_by_form=forms,
                   text_only_control=control,
                   seconds_total=round(time.time() - start, 1),
                   seconds_train=round(train_time, 1))
    out = osp.join(args.work_dir, 'metrics.json')
    atomic_write(out, json.dumps(summary, indent=2))
    print('\n' + demo.format_table(clean, METRIC_KEYS))
    if forms:
        print('\nval by expression form:')
        for form, m in forms.items():
            print(f'  {form:10s} {m["expressions"]:4d} expressions  gIoU '
                  f'{m["gIoU"]:6.2f}  cIoU {m["cIoU"]:6.2f}  N-acc {m["N-acc"]:6.2f}'
                  f'  T-acc {m["T-acc"]:6.2f}')
    if 'val' in clean:
        print(f'\ncontrol: a text-only bag-of-words classifier reaches '
              f'{control["balanced_accuracy"]:.2f}% balanced accuracy on val '
              f'(no-target vs target; chance 50); the model: N-acc '
              f'{clean["val"]["N-acc"]:.2f}, T-acc {clean["val"]["T-acc"]:.2f}')
    print(f'total time {summary["seconds_total"]:.0f} s '
          f'(training {summary["seconds_train"]:.0f} s)')
    print(f'metrics: {out}\nexamples: {examples}')
    return summary


if __name__ == '__main__':
    main()
