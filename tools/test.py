"""Evaluate a referring segmentor: ``python tools/test.py CONFIG CHECKPOINT``.

Multi-GPU: ``bash tools/dist_test.sh CONFIG CHECKPOINT 2``.
``--amp``: the test loop runs under autocast (mmengine's ``fp16`` option of
``TestLoop``): float16 on a GPU, bfloat16 on a CPU.
"""
import argparse

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from asda.engine import add_runner_args, load_run_config, parse_runner_args, setup_cpu_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate a referring segmentor (oIoU, mIoU, Pr@X)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--split', help='evaluate this split of the test dataset (e.g. val, '
        'testA, testB, test) instead of the one in the config')
    parser.add_argument(
        '--out', help='write per-expression results (ref_id, sent_id, I, U, '
        'IoU) to this JSON file')
    parser.add_argument(
        '--show-dir', help='save overlays (image, expression, prediction) '
        'into this directory')
    parser.add_argument(
        '--amp', action='store_true',
        help='half-precision inference: autocast in the test loop (fp16 on '
        'a GPU, bf16 on a CPU)')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


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


def build_cfg(args) -> Config:
    cfg = load_run_config(args.config, args.launcher, args.cfg_options,
                          args.work_dir)
    cfg.load_from = args.checkpoint
    if args.split is not None:
        cfg.test_dataloader.dataset.split = args.split
    if args.out is not None:
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for evaluator in evaluators:
            if evaluator.get('type') == 'RISMetric':
                evaluator.out_file = args.out
    if args.show_dir is not None:
        _enable_visualization(cfg, args.show_dir)
    if args.amp:
        _enable_test_amp(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    return runner.test()


if __name__ == '__main__':
    main()
