"""The built-in end-to-end demos: ASDA trained and evaluated on a synthetic
dataset, on a CPU, in minutes. ``tools/demo_synthetic.py`` (``make demo``)
runs :func:`refer_demo`, ``tools/demo_synthetic_gres.py`` (``make
demo-gres``) :func:`gres_demo`; both are sequences of the steps below.

* :func:`refer_demo`: generate ``data/synthetic`` if missing
  (:mod:`asda.synthetic.refer`); train the tiny-CLIP config; evaluate val /
  testA / testB; a control evaluation of the same checkpoint on val with
  each expression replaced by another ref's expression of the same image (a
  model that reads the text must score far lower); break val down by
  expression kind.
* :func:`gres_demo`: generate ``data/synthetic_gres`` if missing
  (:mod:`asda.synthetic.gres`: expressions of one object, several or none);
  train ``configs/asda/asda_tiny_synthetic_gres.py``; evaluate with
  :class:`asda.GRESMetric` (gIoU, cIoU, N-acc, T-acc, Pr@X); break val down
  by form (single, multi, no-target); the text-only control
  (:func:`asda.synthetic.probes.text_only_control`) beside the model's N-acc
  and T-acc (the no-target decision should need the image).

Both write ``metrics.json`` and ``examples.png`` (image, expression,
prediction, ground truth) into the work directory and print the tables.
Their paths are made absolute once, at the start (a relative work dir is
relative to the current directory, for every step alike), and the splits
the evaluations and the control read are checked against the refs file
before training.
"""
import copy
import json
import os
import os.path as osp
import pickle
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate

from asda.datasets import load_refs
from asda.engine import (
    ASDARunner,
    NothingLeftToTrainError,
    find_resumable_checkpoint,
    load_model_checkpoint,
    read_config,
)
from asda.engine.cli import merge_cfg_options
from asda.evaluation import summarize_gres, summarize_ris
from asda.utils.atomic import atomic_write, write_json
from asda.utils.provenance import machine_info

from .gres import FORMS, GREFS_FILE, GRES_GENERATOR_VERSION, make_synthetic_grefcoco
from .probes import text_cosines, text_only_control_on_grefs
from .refer import EXPRESSION_KINDS, GENERATOR_VERSION, make_synthetic_refcoco

__all__ = ['refer_demo', 'gres_demo', 'add_demo_arguments', 'RIS_METRIC_KEYS', 'GRES_METRIC_KEYS',
           'ensure_refcoco', 'ensure_grefcoco', 'load_cfg', 'check_splits', 'train',
           'trained_checkpoint', 'evaluate', 'swap_expressions',
           'write_control_refs', 'sentence_kinds', 'breakdown_by_kind',
           'breakdown_by_form', 'contrasting_colour', 'draw_examples',
           'format_table']

RIS_METRIC_KEYS = ('oIoU', 'mIoU', 'Pr@0.5', 'Pr@0.7', 'Pr@0.9')
GRES_METRIC_KEYS = ('gIoU', 'cIoU', 'N-acc', 'T-acc', 'Pr@0.7', 'Pr@0.9')


# ------------------------------------------------------------ command line
def add_demo_arguments(parser, config: str, work_dir: str, data_root: str) -> None:
    """The options of both demo tools, with their default config, work dir
    and data root: the arguments of :func:`refer_demo` and :func:`gres_demo`."""
    parser.add_argument('--config', default=config,
                        help=f'the model and recipe to train (default {config})')
    parser.add_argument('--work-dir', default=work_dir,
                        help=f'checkpoints, logs, metrics.json and examples.png '
                        f'(default {work_dir}); an interrupted run resumes here')
    parser.add_argument('--data-root', default=data_root,
                        help=f'the synthetic dataset, generated here when missing or '
                        f'written by another generator version (default {data_root})')
    parser.add_argument('--splits', nargs='+', default=['val', 'testA', 'testB'],
                        help='the splits to evaluate (default val testA testB)')
    parser.add_argument('--skip-train', action='store_true',
                        help='evaluate the last checkpoint in the work dir')
    parser.add_argument('--num-examples', type=int, default=8,
                        help='test samples drawn into examples.png (default 8)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value (e.g. '
                        'randomness.seed=1)')


# ------------------------------------------------------------------- data
def _generator_version(data_root: str, ann_subdir: str) -> Optional[int]:
    """The generator version recorded in a synthetic set's
    ``instances.json`` (None: the file is missing or records no version)."""
    path = osp.join(data_root, ann_subdir, 'instances.json')
    if not osp.exists(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f).get('info', {}).get('version')


def ensure_refcoco(data_root: str) -> None:
    """Generate the synthetic referring dataset into ``data_root`` if it is
    missing or was written by another generator version than
    :data:`asda.synthetic.refer.GENERATOR_VERSION`."""
    refs_file = osp.join(data_root, 'refcoco', 'refs(unc).p')
    version = _generator_version(data_root, 'refcoco')
    if osp.exists(refs_file) and version == GENERATOR_VERSION:
        return
    if osp.exists(refs_file):
        print(f'[demo] {data_root} was written by generator version {version} '
              f'(now {GENERATOR_VERSION}): regenerating it', flush=True)
    print(f'[demo] generating the synthetic dataset into {data_root}', flush=True)
    make_synthetic_refcoco(data_root)


def ensure_grefcoco(data_root: str) -> str:
    """Generate the synthetic gRefCOCO set into ``data_root`` if its grefs
    file is missing or was written by another generator version; return
    that file's path."""
    grefs = osp.join(data_root, GREFS_FILE)
    version = _generator_version(data_root, 'grefcoco')
    if osp.exists(grefs) and version == GRES_GENERATOR_VERSION:
        return grefs
    if osp.exists(grefs):
        print(f'[demo-gres] {data_root} was written by generator version '
              f'{version} (now {GRES_GENERATOR_VERSION}): regenerating it',
              flush=True)
    print(f'[demo-gres] generating the synthetic gRefCOCO set into '
          f'{data_root}', flush=True)
    make_synthetic_grefcoco(data_root)
    return grefs


# ------------------------------------------------------- train, evaluate
def load_cfg(config: str, work_dir: str, data_root: str,
             cfg_options: Optional[dict] = None) -> Config:
    """The config with ``cfg_options`` merged (``--cfg-options``), its work
    dir and every dataloader's data root set."""
    cfg = merge_cfg_options(read_config(config), cfg_options)
    cfg.work_dir = work_dir
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = data_root
    return cfg


def train(cfg: Config, work_dir: str) -> str:
    """Train ``cfg`` with ``resume=True`` (an interrupted demo continues
    from its last complete checkpoint; one is saved every epoch; a finished
    one is kept) and without validation passes (the demo evaluates val
    itself once training ends; the val data is still loaded and checked
    before the first step); return the checkpoint to evaluate."""
    print('[demo] training', flush=True)
    train_cfg = copy.deepcopy(cfg)
    train_cfg.resume = True
    # mmengine's loops validate at their last epoch / iteration whatever the
    # interval: validation set to begin after the last one never runs
    loop = train_cfg.train_cfg
    loop.val_begin = loop.get('max_epochs', loop.get('max_iters', 0)) + 1
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


def evaluate(cfg: Config, checkpoint: str, split: str,
             split_file: Optional[str] = None,
             out_file: Optional[str] = None) -> dict:
    """Test ``checkpoint`` on ``split`` (of ``split_file`` if given)."""
    cfg = copy.deepcopy(cfg)
    cfg.load_from = checkpoint
    cfg.test_dataloader.dataset.split = split
    if split_file is not None:
        cfg.test_dataloader.dataset.split_file = split_file
    cfg.test_evaluator.out_file = out_file
    return ASDARunner.from_cfg(cfg).test()


# ------------------------------------------------------------ the control
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
    """The refs file of the test dataset of ``cfg``."""
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


# ------------------------------------------------------------- breakdowns
def sentence_kinds(refs: List[dict], source: str) -> Dict[int, str]:
    """sent_id -> the ``kind`` the generator recorded for each sentence of
    ``refs`` (read from ``source``, named in errors): an expression kind of
    :data:`asda.synthetic.refer.EXPRESSION_KINDS`, or a gRefCOCO form of
    :data:`asda.synthetic.gres.FORMS`.

    Raises:
        ValueError: a sentence has no ``kind``.
    """
    kinds = {}
    for ref in refs:
        for sent in ref['sentences']:
            if 'kind' not in sent:
                raise ValueError(
                    f'{source}: sentence {sent.get("sent_id")} of ref '
                    f'{ref.get("ref_id")} has no "kind"; regenerate the '
                    'synthetic dataset (tools/dataset_converters/'
                    'make_synthetic_refcoco.py or make_synthetic_grefcoco.py)')
            kinds[sent['sent_id']] = sent['kind']
    return kinds


def _records_by_kind(records_file: str, kinds: Dict[int, str],
                     order: Sequence[str]) -> Dict[str, List[dict]]:
    """The per-expression records of a metric's ``out_file``, grouped by
    their sentence's kind, kinds in ``order`` (others after, by name)."""
    with open(records_file) as f:
        records = json.load(f)['records']
    by_kind = {}
    for rec in records:
        if rec['sent_id'] not in kinds:
            raise KeyError(f'{records_file}: sent_id {rec["sent_id"]} has no '
                           'expression kind in the refs')
        by_kind.setdefault(kinds[rec['sent_id']], []).append(rec)
    rank = {kind: i for i, kind in enumerate(order)}
    return {kind: by_kind[kind] for kind in
            sorted(by_kind, key=lambda k: (rank.get(k, len(rank)), k))}


def breakdown_by_kind(records_file: str, kinds: Dict[int, str]) -> dict:
    """mIoU and oIoU (percent, as :func:`asda.evaluation.summarize_ris`)
    per expression kind (``kinds``: :func:`sentence_kinds`), from the
    per-expression records of ``RISMetric(out_file=...)``; kinds in the
    generator's order."""
    breakdown = {}
    for kind, recs in _records_by_kind(records_file, kinds,
                                       EXPRESSION_KINDS).items():
        metrics = summarize_ris(
            [dict(I=r['I'], U=r['U'], iou=r['IoU']) for r in recs], iou_thrs=())
        breakdown[kind] = dict(expressions=len(recs), mIoU=metrics['mIoU'],
                               oIoU=metrics['oIoU'])
    return breakdown


def breakdown_by_form(records_file: str, forms: Dict[int, str]) -> dict:
    """:func:`asda.evaluation.summarize_gres` per expression form
    (``forms``: :func:`sentence_kinds` of the grefs: single, multi,
    no-target), from the per-expression records of
    ``GRESMetric(out_file=...)``."""
    return {form: dict(expressions=len(recs), **summarize_gres(recs, iou_thrs=()))
            for form, recs in _records_by_kind(records_file, forms, FORMS).items()}


# --------------------------------------------------------------- pictures
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


def _draw_mask(ax, image: np.ndarray, mask: np.ndarray) -> None:
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


def _draw_example_row(axes, pred, image: np.ndarray) -> None:
    """One row of the examples picture: image with its expression,
    prediction (IoU, no-target score), ground truth."""
    gt = pred.gt_sem_seg.data[0].numpy()
    mask = pred.pred_sem_seg.data[0].numpy()
    inter = np.logical_and(mask == 1, gt == 1).sum()
    union = np.logical_or(mask == 1, gt == 1).sum()
    iou = inter / union if union else 1.0
    score = pred.get('no_target_score')
    extra = '' if score is None else f', no target {float(score):.2f}'
    titles = [f'"{pred.metainfo["text"]}"', f'prediction (IoU {iou:.2f}{extra})',
              'ground truth' if gt.any() else 'ground truth: no target']
    for ax, title, overlay in zip(axes, titles, (None, mask, gt)):
        ax.imshow(image)
        if overlay is not None:
            _draw_mask(ax, image, overlay == 1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)


def trained_model(cfg: Config, checkpoint: str):
    """The config's model with ``checkpoint`` loaded, in eval mode."""
    from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)
    load_model_checkpoint(model, checkpoint)
    return model.eval()


def draw_examples(cfg: Config, model, out_file: str, num: int) -> None:
    """``num`` test samples, evenly spread over the test dataset, predicted
    by ``model`` (:func:`trained_model`): one row each
    (:func:`_draw_example_row`)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from mmseg.registry import DATASETS

    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    num = min(num, len(dataset))  # a split of fewer samples draws them all
    step = max(1, len(dataset) // num)
    fig, axes = plt.subplots(num, 3, figsize=(7.5, 2.6 * num), squeeze=False)
    for row, idx in enumerate(range(0, step * num, step)):
        data = dataset[idx]
        with torch.no_grad():  # as mmengine's test loop: no graph
            pred = model.test_step(pseudo_collate([data]))[0]
        image = plt.imread(data['data_samples'].metainfo['img_path'])
        _draw_example_row(axes[row], pred, image)
    fig.tight_layout()
    fig.savefig(out_file, dpi=80)
    plt.close(fig)


def format_table(results: dict, keys: Sequence[str] = RIS_METRIC_KEYS) -> str:
    """A Markdown table: one row per split, one column per metric key."""
    header = '| split | ' + ' | '.join(keys) + ' |'
    lines = [header, '|' + '---|' * (len(keys) + 1)]
    for split, metrics in results.items():
        values = ' | '.join(f'{metrics[k]:.2f}' for k in keys)
        lines.append(f'| {split} | {values} |')
    return '\n'.join(lines)


# ------------------------------------------------------------------- runs
def _finish(cfg: Config, checkpoint: str, work_dir: str, num_examples: int,
            summary: dict, times: tuple, keys: Sequence[str],
            notes: List[str]) -> dict:
    """Draw the examples, write ``metrics.json`` (``summary`` with the
    times: ``times`` = (start, training seconds)) and print the table,
    ``notes`` and where the files are; returns the summary."""
    examples = osp.join(work_dir, 'examples.png')
    model = trained_model(cfg, checkpoint)
    draw_examples(cfg, model, examples, num_examples)
    start, train_time = times
    summary.update(
        text_cosines=text_cosines(lambda texts: model.backbone.forward_text(texts)[2]),
        command=' '.join([osp.basename(sys.executable)] + sys.argv),
        config=cfg.filename,
        seed=cfg.get('randomness', {}).get('seed'), machine=machine_info('cpu'),
        seconds_total=round(time.time() - start, 1), seconds_train=round(train_time, 1))
    out = osp.join(work_dir, 'metrics.json')
    write_json(out, summary, indent=2)
    print('\n' + format_table(summary['metrics'], keys))
    for line in notes:
        print(line)
    print('text tower, sentence cosines: ' + ', '.join(
        f'{k} {v:.3f}' for k, v in summary['text_cosines'].items()))
    print(f'total time {summary["seconds_total"]:.0f} s '
          f'(training {summary["seconds_train"]:.0f} s)')
    print(f'metrics: {out}\nexamples: {examples}')
    return summary


def _as_floats(results: dict) -> dict:
    return {split: {k: float(v) for k, v in m.items()}
            for split, m in results.items()}


def check_splits(cfg: Config, splits: Sequence[str]) -> None:
    """Refuse, before training, ``splits`` the test refs file lacks
    (:func:`refs_path`): the evaluations and controls after training read
    them.

    Raises:
        ValueError: naming the refs file, the missing splits and those it has.
    """
    refs_file = refs_path(cfg)
    found = {ref['split'] for ref in load_refs(refs_file)}
    missing = [s for s in dict.fromkeys(splits) if s not in found]
    if missing:
        raise ValueError(f'--splits: {refs_file} has no split '
                         f'{", ".join(map(repr, missing))} (it has '
                         f'{", ".join(sorted(found))})')


def _trained(config: str, work_dir: str, data_root: str,
             skip_train: bool, splits: Sequence[str],
             cfg_options: Optional[dict] = None) -> tuple:
    """The demo's config (:func:`load_cfg`) and its trained checkpoint:
    :func:`train`, or with ``skip_train`` the one in the work dir; the
    ``splits`` later steps read are checked first (:func:`check_splits`).

    Returns:
        tuple: the config, the checkpoint.
    """
    cfg = load_cfg(config, work_dir, data_root, cfg_options)
    check_splits(cfg, splits)
    os.makedirs(work_dir, exist_ok=True)
    return cfg, trained_checkpoint(work_dir) if skip_train else train(cfg, work_dir)


def _evaluate_with_records(cfg: Config, checkpoint: str, split: str,
                           work_dir: str, tag: str) -> dict:
    """:func:`evaluate` ``split``, its per-expression records written to
    ``work_dir/per_expression_<split>.json``."""
    print(f'[{tag}] evaluating {split}', flush=True)
    return evaluate(cfg, checkpoint, split,
                    out_file=osp.join(work_dir, f'per_expression_{split}.json'))


def refer_demo(config: str, work_dir: str, data_root: str,
               splits: Sequence[str] = ('val', 'testA', 'testB'),
               skip_train: bool = False, num_examples: int = 8,
               cfg_options: Optional[dict] = None) -> dict:
    """``make demo`` (see the module docstring): returns the summary it
    writes to ``metrics.json``. ``skip_train``: evaluate the work dir's
    last checkpoint."""
    start = time.time()
    config, work_dir, data_root = map(osp.abspath, (config, work_dir, data_root))
    ensure_refcoco(data_root)
    cfg, checkpoint = _trained(config, work_dir, data_root, skip_train,
                               list(splits) + ['val'], cfg_options)
    times = (start, time.time() - start)
    results = {split: _evaluate_with_records(cfg, checkpoint, split, work_dir, 'demo')
               for split in splits}
    refs_file = refs_path(cfg)
    kinds = breakdown_by_kind(
        osp.join(work_dir, 'per_expression_val.json'),
        sentence_kinds(load_refs(refs_file), refs_file)) if 'val' in splits else {}
    print('[demo] control: val with swapped expressions', flush=True)
    control_refs = write_control_refs(
        cfg, 'val', osp.join(work_dir, 'refs_control_val.p'))
    results['val (swapped expressions)'] = evaluate(
        cfg, checkpoint, 'val', split_file=control_refs)
    metrics = _as_floats(results)
    drop = metrics['val']['oIoU'] - metrics['val (swapped expressions)']['oIoU'] \
        if 'val' in metrics else None
    notes = ['\nval by expression kind:'] if kinds else []
    notes += [f'  {kind:18s} {m["expressions"]:4d} expressions  '
              f'oIoU {m["oIoU"]:6.2f}  mIoU {m["mIoU"]:6.2f}'
              for kind, m in kinds.items()]
    if drop is not None:
        notes.append(f'\ncontrol: swapping expressions costs {drop:.2f} oIoU '
                     f'points on val')
    summary = dict(checkpoint=checkpoint, metrics=metrics,
                   val_by_expression_kind=kinds, control_drop_oIoU=drop,
                   cfg_options=cfg_options or {})
    return _finish(cfg, checkpoint, work_dir, num_examples, summary, times,
                   RIS_METRIC_KEYS, notes)


def gres_demo(config: str, work_dir: str, data_root: str,
              splits: Sequence[str] = ('val', 'testA', 'testB'),
              skip_train: bool = False, num_examples: int = 8,
              cfg_options: Optional[dict] = None) -> dict:
    """``make demo-gres`` (see the module docstring): returns the summary it
    writes to ``metrics.json``. ``skip_train``: evaluate the work dir's
    last checkpoint."""
    start = time.time()
    config, work_dir, data_root = map(osp.abspath, (config, work_dir, data_root))
    grefs_file = ensure_grefcoco(data_root)
    grefs = load_refs(grefs_file)  # read once
    cfg, checkpoint = _trained(config, work_dir, data_root, skip_train,
                               list(splits) + ['train', 'val'], cfg_options)
    times = (start, time.time() - start)
    metrics = _as_floats({
        split: _evaluate_with_records(cfg, checkpoint, split, work_dir, 'demo-gres')
        for split in splits})
    forms = breakdown_by_form(
        osp.join(work_dir, 'per_expression_val.json'),
        sentence_kinds(grefs, grefs_file)) if 'val' in splits else {}
    control = text_only_control_on_grefs(grefs, 'train', 'val')
    notes = ['\nval by expression form:'] if forms else []
    notes += [f'  {form:10s} {m["expressions"]:4d} expressions  gIoU '
              f'{m["gIoU"]:6.2f}  cIoU {m["cIoU"]:6.2f}  N-acc {m["N-acc"]:6.2f}'
              f'  T-acc {m["T-acc"]:6.2f}' for form, m in forms.items()]
    if 'val' in metrics:
        notes.append(
            f'\ncontrol: a text-only bag-of-words classifier reaches '
            f'{control["balanced_accuracy"]:.2f}% balanced accuracy on val '
            f'(no-target vs target; chance 50); the model: N-acc '
            f'{metrics["val"]["N-acc"]:.2f}, T-acc {metrics["val"]["T-acc"]:.2f}')
    summary = dict(checkpoint=checkpoint, metrics=metrics, val_by_form=forms,
                   text_only_control=control, cfg_options=cfg_options or {})
    return _finish(cfg, checkpoint, work_dir, num_examples, summary, times,
                   GRES_METRIC_KEYS, notes)
