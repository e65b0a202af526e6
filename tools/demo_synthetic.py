"""The built-in end-to-end demo (``make demo``): train and evaluate ASDA on
the synthetic referring dataset, on a CPU, in minutes.

Steps: generate ``data/synthetic`` if missing; train the tiny-CLIP config;
evaluate val / testA / testB; a control evaluation of the same checkpoint on
val with each expression replaced by another ref's expression of the same
image (a model that reads the text must score far lower); write
``metrics.json`` and ``examples.png`` (image, expression, prediction, ground
truth) into the work directory and print the metric table.
"""
import argparse
import copy
import json
import os
import os.path as osp
import pickle
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

import asda  # noqa: F401  (registers the components)
from asda.datasets import load_refs
from asda.datasets.synthetic import EXPRESSION_KINDS, make_synthetic_refcoco
from asda.engine import (
    ASDARunner,
    NothingLeftToTrainError,
    find_resumable_checkpoint,
    load_model_checkpoint,
    read_config,
)
from asda.evaluation import summarize_ris
from asda.utils.atomic import atomic_write

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
METRIC_KEYS = ('oIoU', 'mIoU', 'Pr@0.5', 'Pr@0.7', 'Pr@0.9')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--config', default=osp.join(ROOT, 'configs/asda/asda_tiny_synthetic.py'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/synthetic'))
    parser.add_argument(
        '--splits', nargs='+', default=['val', 'testA', 'testB'])
    parser.add_argument(
        '--skip-train', action='store_true',
        help='evaluate the last checkpoint in the work dir')
    parser.add_argument('--num-examples', type=int, default=8)
    return parser.parse_args(argv)


def ensure_dataset(data_root: str) -> None:
    """Generate the synthetic dataset into ``data_root`` if it is missing,
    or if its refs predate the expression kinds (generator version 1: the
    same images and refs, without the ``kind`` of each sentence)."""
    refs_file = osp.join(data_root, 'refcoco', 'refs(unc).p')
    if osp.exists(refs_file):
        refs = load_refs(refs_file)
        if all('kind' in s for r in refs for s in r['sentences']):
            return
        print(f'[demo] {refs_file} has no expression kinds (an older '
              'generator): regenerating it', flush=True)
    print(f'[demo] generating the synthetic dataset into {data_root}', flush=True)
    make_synthetic_refcoco(data_root)


def load_cfg(args) -> Config:
    cfg = read_config(args.config)
    cfg.work_dir = args.work_dir
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = args.data_root
    return cfg


def swap_expressions(refs: list, split: str) -> int:
    """Give every ref of ``split`` the expressions of another ref of the same
    image, in place: the refs of an image pass their sentence lists round
    (ref 1 gets ref 2's, ..., the last gets ref 1's). Images with a single
    ref keep it as it is.

    Returns the number of expressions moved (all of the split's, when every
    image holds at least two refs, as the synthetic set guarantees).
    """
    by_image = {}
    for ref in refs:
        if ref['split'] == split:
            by_image.setdefault(ref['image_id'], []).append(ref)
    moved = 0
    for group in by_image.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda ref: ref['ref_id'])
        sentences = [(ref['sentences'], ref['sent_ids']) for ref in group]
        for ref, (sents, ids) in zip(group, sentences[1:] + sentences[:1]):
            ref['sentences'], ref['sent_ids'] = sents, ids
            moved += len(sents)
    return moved


def refs_path(cfg: Config) -> str:
    """The refs pickle of the test dataset of ``cfg``."""
    dataset = cfg.test_dataloader.dataset
    src = dataset.split_file
    if not osp.isabs(src):
        src = osp.join(dataset.data_root, src)
    return src


def write_control_refs(cfg: Config, split: str, out_file: str) -> str:
    """Write the test dataset's refs pickle with ``split``'s expressions
    swapped (:func:`swap_expressions`) to ``out_file``; returns its path."""
    refs = load_refs(refs_path(cfg))
    moved = swap_expressions(refs, split)
    print(f'[demo] control: {moved} {split} expressions replaced by another '
          'ref\'s of the same image', flush=True)
    atomic_write(out_file, pickle.dumps(refs, protocol=2))
    return out_file


def evaluate(cfg: Config, checkpoint: str, split: str, split_file=None,
             out_file=None) -> dict:
    """Test ``checkpoint`` on ``split`` (of ``split_file`` if given)."""
    cfg = copy.deepcopy(cfg)
    cfg.load_from = checkpoint
    cfg.test_dataloader.dataset.split = split
    if split_file is not None:
        cfg.test_dataloader.dataset.split_file = split_file
    cfg.test_evaluator.out_file = out_file
    return ASDARunner.from_cfg(cfg).test()


def expression_kinds(refs_file: str) -> dict:
    """sent_id -> the expression kind the generator recorded in the refs
    (one of :data:`asda.datasets.synthetic.EXPRESSION_KINDS`).

    Raises:
        ValueError: a sentence of ``refs_file`` has no ``kind``.
    """
    kinds = {}
    for ref in load_refs(refs_file):
        for sent in ref['sentences']:
            if 'kind' not in sent:
                raise ValueError(
                    f'{refs_file}: sentence {sent.get("sent_id")} of ref '
                    f'{ref.get("ref_id")} has no "kind"; regenerate the '
                    'synthetic dataset (tools/dataset_converters/'
                    'make_synthetic_refcoco.py)')
            kinds[sent['sent_id']] = sent['kind']
    return kinds


def breakdown_by_kind(records_file: str, kinds: dict) -> dict:
    """mIoU and oIoU (percent, as :func:`asda.evaluation.summarize_ris`)
    per expression kind (``kinds``: sent_id -> kind, from
    :func:`expression_kinds`), from the per-expression records of
    ``RISMetric(out_file=...)``; kinds in the generator's order."""
    with open(records_file) as f:
        records = json.load(f)['records']
    by_kind = {}
    for rec in records:
        if rec['sent_id'] not in kinds:
            raise KeyError(f'{records_file}: sent_id {rec["sent_id"]} has no '
                           'expression kind in the refs')
        by_kind.setdefault(kinds[rec['sent_id']], []).append(rec)
    order = {kind: i for i, kind in enumerate(EXPRESSION_KINDS)}
    breakdown = {}
    for kind in sorted(by_kind, key=lambda k: (order.get(k, len(order)), k)):
        recs = by_kind[kind]
        metrics = summarize_ris(
            [dict(I=r['I'], U=r['U'], iou=r['IoU']) for r in recs], iou_thrs=())
        breakdown[kind] = dict(expressions=len(recs), mIoU=metrics['mIoU'],
                               oIoU=metrics['oIoU'])
    return breakdown


#: Mask colours for the examples picture (RGB, 0-1): each mask is drawn in
#: the one farthest from the colour of the pixels it covers.
MASK_COLOURS = ((1.0, 0.0, 1.0), (0.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def contrasting_colour(image: np.ndarray, mask: np.ndarray) -> tuple:
    """The :data:`MASK_COLOURS` entry farthest (RGB distance) from the mean
    colour of ``image`` (H, W, 3; uint8 or 0-1 floats) under ``mask``."""
    pixels = image[..., :3].reshape(-1, 3).astype(np.float64)
    if image.dtype == np.uint8:
        pixels /= 255.0
    flat = mask.reshape(-1)
    mean = pixels[flat].mean(0) if flat.any() else pixels.mean(0)
    return max(MASK_COLOURS, key=lambda c: float(np.sum((np.array(c) - mean) ** 2)))


def draw_mask(ax, image: np.ndarray, mask: np.ndarray) -> None:
    """A mask on ``ax``: a translucent fill and a solid outline, in a colour
    that contrasts with the object (:func:`contrasting_colour`), so that a
    mask on a yellow or green object stays visible."""
    if not mask.any():
        return
    colour = contrasting_colour(image, mask)
    fill = np.zeros(mask.shape + (4, ))
    fill[mask] = colour + (0.45, )
    ax.imshow(fill)
    ax.contour(mask.astype(float), levels=[0.5], colors=[colour], linewidths=1.5)


def draw_examples(cfg: Config, checkpoint: str, out_file: str, num: int) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from mmseg.registry import DATASETS, MODELS

    model = MODELS.build(cfg.model)
    load_model_checkpoint(model, checkpoint)
    model.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    step = max(1, len(dataset) // num)
    fig, axes = plt.subplots(num, 3, figsize=(7.5, 2.6 * num))
    for row, idx in enumerate(range(0, step * num, step)):
        data = dataset[idx]
        with torch.no_grad():  # as mmengine's test loop: no graph
            pred = model.test_step(pseudo_collate([data]))[0]
        img = data['data_samples'].metainfo['img_path']
        image = plt.imread(img)
        gt = pred.gt_sem_seg.data[0].numpy()
        mask = pred.pred_sem_seg.data[0].numpy()
        inter = np.logical_and(mask == 1, gt == 1).sum()
        union = np.logical_or(mask == 1, gt == 1).sum()
        iou = inter / union if union else 1.0
        for col, (title, overlay) in enumerate(
                [('image', None), ('prediction', mask), ('ground truth', gt)]):
            ax = axes[row, col]
            ax.imshow(image)
            if overlay is not None:
                draw_mask(ax, image, overlay == 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_title(f'"{pred.metainfo["text"]}"', fontsize=9)
            elif col == 1:
                score = pred.get('no_target_score')
                extra = '' if score is None else f', no target {float(score):.2f}'
                ax.set_title(f'prediction (IoU {iou:.2f}{extra})', fontsize=9)
            else:
                ax.set_title(title if gt.any() else 'ground truth: no target',
                             fontsize=9)
    fig.tight_layout()
    fig.savefig(out_file, dpi=80)
    plt.close(fig)


def format_table(results: dict, keys=METRIC_KEYS) -> str:
    """A Markdown table: one row per split, one column per metric key."""
    header = '| split | ' + ' | '.join(keys) + ' |'
    lines = [header, '|' + '---|' * (len(keys) + 1)]
    for split, metrics in results.items():
        values = ' | '.join(f'{metrics[k]:.2f}' for k in keys)
        lines.append(f'| {split} | {values} |')
    return '\n'.join(lines)


def train(cfg: Config, work_dir: str) -> str:
    """Train ``cfg`` with ``resume=True`` (an interrupted demo continues
    from its last complete checkpoint; one is saved every epoch; a finished
    one is kept); return the checkpoint to evaluate."""
    print('[demo] training', flush=True)
    train_cfg = copy.deepcopy(cfg)
    train_cfg.resume = True
    try:
        ASDARunner.from_cfg(train_cfg).train()
    except NothingLeftToTrainError as err:
        print(f'[demo] training had finished, kept as it is ({err})', flush=True)
    return trained_checkpoint(work_dir)


def trained_checkpoint(work_dir: str) -> str:
    """What training left in ``work_dir``: last_checkpoint's record, else
    the newest readable checkpoint (the rule --resume follows)."""
    checkpoint = find_resumable_checkpoint(work_dir)
    if checkpoint is None:
        raise FileNotFoundError(f'no checkpoint in {work_dir}; train first')
    return checkpoint


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    ensure_dataset(args.data_root)
    cfg = load_cfg(args)
    os.makedirs(args.work_dir, exist_ok=True)
    checkpoint = trained_checkpoint(args.work_dir) if args.skip_train \
        else train(cfg, args.work_dir)
    train_time = time.time() - start

    results = {}
    for split in args.splits:
        print(f'[demo] evaluating {split}', flush=True)
        results[split] = evaluate(
            cfg, checkpoint, split,
            out_file=osp.join(args.work_dir, f'per_expression_{split}.json'))
    kinds = breakdown_by_kind(
        osp.join(args.work_dir, 'per_expression_val.json'),
        expression_kinds(refs_path(cfg))) if 'val' in args.splits else {}
    print('[demo] control: val with swapped expressions', flush=True)
    control_refs = write_control_refs(
        cfg, 'val', osp.join(args.work_dir, 'refs_control_val.p'))
    results['val (swapped expressions)'] = evaluate(
        cfg, checkpoint, 'val', split_file=control_refs)
    examples = osp.join(args.work_dir, 'examples.png')
    draw_examples(cfg, checkpoint, examples, args.num_examples)

    clean = {split: {k: float(v) for k, v in m.items()}
             for split, m in results.items()}
    summary = dict(
        checkpoint=checkpoint, metrics=clean, val_by_expression_kind=kinds,
        control_drop_oIoU=clean['val']['oIoU'] -
        clean['val (swapped expressions)']['oIoU'] if 'val' in clean else None,
        seconds_total=round(time.time() - start, 1),
        seconds_train=round(train_time, 1))
    out = osp.join(args.work_dir, 'metrics.json')
    atomic_write(out, json.dumps(summary, indent=2))
    print('\n' + format_table(clean))
    if kinds:
        print('\nval by expression kind:')
        for kind, m in kinds.items():
            print(f'  {kind:18s} {m["expressions"]:4d} expressions  '
                  f'oIoU {m["oIoU"]:6.2f}  mIoU {m["mIoU"]:6.2f}')
    if summary['control_drop_oIoU'] is not None:
        print(f'\ncontrol: swapping expressions costs '
              f'{summary["control_drop_oIoU"]:.2f} oIoU points on val')
    print(f'total time {summary["seconds_total"]:.0f} s '
          f'(training {summary["seconds_train"]:.0f} s)')
    print(f'metrics: {out}\nexamples: {examples}')
    return summary


if __name__ == '__main__':
    main()
