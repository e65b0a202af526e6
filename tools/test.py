"""Evaluate a referring segmentor: ``python tools/test.py CONFIG CHECKPOINT``.

Multi-GPU: ``bash tools/dist_test.sh CONFIG CHECKPOINT 2``.

``--split all`` evaluates every evaluation split of the test dataset (all
but ``train``) one after the other and prints one table; a standard split of
the refs file's scheme that it lacks (testB of ``refs(unc).p``) stops it
before any evaluation, naming every one missing, as does a file without
evaluation splits. ``--split val,testA`` evaluates the splits listed (each
must exist), one table. ``--protocol``
chooses where masks are scored: ``original`` (default: at each image's
original size, as CRIS and the ASDA release), ``square`` (prediction and
mask resized to ``--score-size`` x ``--score-size``, 480 as LAVT and ReLA
do) or ``both`` (the square figures get the prefix ``sq<size>/``).

``--amp``: the test loop runs under autocast (mmengine's ``fp16`` option of
``TestLoop``): float16 on a GPU, bfloat16 on a CPU.
"""
import argparse
import os.path as osp
import re

from mmengine.config import Config
from mmengine.registry import RUNNERS

from asda.engine import add_runner_args, load_run_config, parse_runner_args, setup_cpu_distributed
from asda.utils.arg_types import output_file


def split_names(text: str) -> list:
    """The split names of a ``--split`` list (``val,testA``): at least one.

    Raises:
        ValueError: ``text`` names no split (``','``, ``''``).
    """
    names = [s.strip() for s in text.split(',') if s.strip()]
    if not names:
        raise ValueError(f'{text!r} names no split; give one (val), a list '
                         '(val,testA) or all')
    return names


def split_option(text: str) -> str:
    """``--split``: ``all``, or a split or list of them
    (:func:`split_names`), checked at parse time."""
    if text != 'all':
        try:
            split_names(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Evaluate a referring segmentor (oIoU, mIoU, Pr@X)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--split', type=split_option,
        help='evaluate this split of the test dataset (e.g. val, '
        'testA, testB, test) instead of the one in the config; a list '
        '(val,testA) or "all" (every split but train; the standard ones of '
        'the refs file must all exist): one table')
    parser.add_argument(
        '--protocol', choices=['original', 'square', 'both'],
        default='original',
        help='score at the original image size (CRIS, the ASDA release), at '
        '--score-size x --score-size (LAVT, ReLA), or both')
    parser.add_argument(
        '--score-size', type=int, default=480,
        help='side of the square protocol (default 480, as LAVT / ReLA)')
    parser.add_argument(
        '--out', type=output_file,
        help='write a JSON object to this file: per-expression '
        'records (ref_id, sent_id, I, U, IoU), the evaluated and total counts '
        'and the skipped samples (--skip-bad-samples)')
    parser.add_argument(
        '--show-dir', help='save overlays (image, expression, prediction) '
        'into this directory')
    parser.add_argument(
        '--amp', action='store_true',
        help='half-precision inference: autocast in the test loop (fp16 on '
        'a GPU, bf16 on a CPU)')
    add_runner_args(parser)
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parse_runner_args(parser, argv)
    if args.score_size < 1:
        parser.error(f'--score-size must be at least 1, got {args.score_size}')
    return args


def _enable_visualization(cfg: Config, show_dir: str) -> None:
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        hooks.visualization = dict(type='SegVisualizationHook')
    hooks.visualization.draw = True
    hooks.visualization.interval = 1
    cfg.visualizer.save_dir = show_dir


def _enable_test_amp(cfg: Config) -> None:
    # mmengine's TestLoop / ValLoop enter its autocast when fp16=True: the
    # GPU's default dtype (float16) on CUDA, bfloat16 on a CPU.
    test_cfg = dict(cfg.get('test_cfg') or dict(type='TestLoop'))
    kind = test_cfg.get('type', 'TestLoop')
    if kind not in ('TestLoop', 'ValLoop'):
        raise ValueError(f'--amp: test_cfg type {kind!r} has no fp16 option '
                         f'(TestLoop or ValLoop)')
    test_cfg['fp16'] = True
    cfg.test_cfg = test_cfg


def _is_ris_metric(evaluator: dict) -> bool:
    """Whether an evaluator config is a :class:`asda.RISMetric` (or a
    subclass, e.g. :class:`asda.GRESMetric`): the ones ``--out`` and
    ``--protocol`` configure."""
    from mmseg.registry import METRICS

    from asda.evaluation import RISMetric
    kind = evaluator.get('type')
    cls = kind if isinstance(kind, type) else METRICS.get(kind)
    return cls is not None and issubclass(cls, RISMetric)


def build_cfg(args) -> Config:
    cfg = load_run_config(args.config, args.launcher, args.cfg_options,
                          args.work_dir, args)
    cfg.load_from = args.checkpoint
    if args.split is not None:
        cfg.test_dataloader.dataset.split = args.split
    evaluators = cfg.test_evaluator
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    evaluators = list(evaluators)
    if args.protocol != 'original':
        square = [dict(e, score_size=args.score_size) for e in evaluators
                  if _is_ris_metric(e)]
        if not square:
            raise ValueError(f'--protocol {args.protocol} needs a RISMetric in '
                             'test_evaluator')
        if args.protocol == 'both':
            for e in square:
                e['prefix'] = f'sq{args.score_size}'
                e.pop('out_file', None)
            evaluators = evaluators + square
        else:
            evaluators = [e for e in evaluators
                          if not _is_ris_metric(e)] + square
    if args.out is not None:
        for evaluator in evaluators:
            if _is_ris_metric(evaluator) and 'prefix' not in evaluator:
                evaluator['out_file'] = args.out
    cfg.test_evaluator = evaluators if len(evaluators) > 1 else evaluators[0]
    if args.show_dir is not None:
        _enable_visualization(cfg, args.show_dir)
    if args.amp:
        _enable_test_amp(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    return cfg


#: The evaluation splits of each split scheme of the refer release
#: (``refs(unc).p``: RefCOCO, RefCOCO+, gRefCOCO; ``refs(umd).p``: G-Ref;
#: ``refs(google).p``: at least val), in their order.
STANDARD_SPLITS = {
    'unc': ('val', 'testA', 'testB'),
    'umd': ('val', 'test'),
    'google': ('val', ),
}
_ORDER = ['train', 'val', 'testA', 'testB', 'test']


def evaluation_splits(cfg: Config, requested: str) -> list:
    """The splits ``--split`` names, all present in the test dataset's refs
    file, checked before any evaluation.

    Args:
        cfg (Config): A run config (its test dataset's refs file is read).
        requested (str): ``'all'``: every split of the file but train, and
            every one of its scheme's :data:`STANDARD_SPLITS` (the scheme is
            the ``(unc)`` / ``(umd)`` / ``(google)`` of the file name);
            otherwise a comma-separated list (``val,testA``).

    Raises:
        ValueError: Nothing to evaluate, or a split asked for (listed, or
            standard for ``all``) is missing; every missing one is named.
    """
    from asda.datasets import load_refs
    dataset = cfg.test_dataloader.dataset
    path = dataset.split_file
    if dataset.get('data_root') and not osp.isabs(path):
        path = osp.join(dataset.data_root, path)
    found = {str(ref['split']) for ref in load_refs(path)}

    def ordered(splits):
        return sorted(splits, key=lambda s: (_ORDER.index(s) if s in _ORDER else 9, s))

    has = ', '.join(ordered(found))
    if requested != 'all':
        wanted = split_names(requested)
        missing = [s for s in wanted if s not in found]
        if missing:
            raise ValueError(f'--split {requested}: {path} has no split '
                             f'{", ".join(missing)} (it has {has})')
        return wanted
    wanted = ordered(found - {'train'})
    if not wanted:
        raise ValueError(f'--split all: {path} has no evaluation split (it '
                         f'has {has}): nothing to evaluate')
    scheme = re.search(r'\((\w+)\)', osp.basename(path))
    standard = STANDARD_SPLITS.get(scheme.group(1) if scheme else None, ())
    missing = [s for s in standard if s not in found]
    if missing:
        raise ValueError(
            f'--split all: {path} lacks split(s) {", ".join(missing)} of the '
            f'{scheme.group(1)} splits ({", ".join(standard)}) (it has {has}); '
            f'to evaluate the others, list them: --split {",".join(wanted)}')
    return wanted


def _per_split(args, split: str):
    """``args`` for one split of ``--split all``: out file and show dir
    get the split in their names."""
    one = argparse.Namespace(**vars(args))
    one.split = split
    if args.out is not None:
        stem, ext = osp.splitext(args.out)
        one.out = f'{stem}.{split}{ext or ".json"}'
    if args.show_dir is not None:
        one.show_dir = osp.join(args.show_dir, split)
    if args.work_dir is not None:
        one.work_dir = osp.join(args.work_dir, split)
    return one


def check_split_outputs(args, splits) -> None:
    """Each split's ``--out`` file (:func:`_per_split`: ``o.<split>.json``)
    can be written (:func:`asda.utils.arg_types.output_file`), checked before the
    first evaluation.

    Raises:
        ValueError: A derived name cannot be written (it names ``--out``,
            the split and the file).
    """
    if args.out is None:
        return
    for split in splits:
        try:
            output_file(_per_split(args, split).out)
        except argparse.ArgumentTypeError as err:
            raise ValueError(f'--out {args.out}: the {split} split\'s file {err}') from None


def print_split_table(results: dict) -> None:
    from prettytable import PrettyTable
    keys = list(dict.fromkeys(k for m in results.values() for k in m))
    table = PrettyTable()
    table.field_names = ['split'] + keys
    for split, metrics in results.items():
        table.add_row([split] + [f'{metrics[k]:.2f}' if k in metrics else '-'
                                 for k in keys])
    print(table.get_string())


def main(argv=None):
    args = parse_args(argv)
    if args.split is None or (args.split != 'all' and ',' not in args.split):
        cfg = build_cfg(args)
        runner = RUNNERS.build(cfg)  # ASDARunner unless the config names one
        return runner.test()
    splits = evaluation_splits(build_cfg(_per_split(args, 'val')), args.split)
    check_split_outputs(args, splits)
    results = {}
    for split in splits:
        cfg = build_cfg(_per_split(args, split))
        results[split] = dict(RUNNERS.build(cfg).test())
    print_split_table(results)
    return results


if __name__ == '__main__':
    main()
