"""Train a referring segmentor: ``python tools/train.py CONFIG [options]``.

Multi-GPU: ``bash tools/dist_train.sh CONFIG 2``; without CUDA the same
command trains with gloo on the CPU.

One run per work dir: the run holds its work dir from before anything is
written into it until it ends (:func:`asda.engine.hold_work_dir`); a second
run with the same work dir is refused at once, naming the holder's pid.
"""
import argparse
import logging

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS

from asda.engine import (
    add_runner_args,
    enable_amp,
    hold_work_dir,
    load_run_config,
    parse_runner_args,
    setup_cpu_distributed,
)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description='Train a referring segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the latest checkpoint in the work dir, or from the '
        'given checkpoint file')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: fp16 AmpOptimWrapper on a GPU, bf16 autocast '
        'on a CPU')
    add_runner_args(parser)
    return parser


def parse_args(argv=None):
    return parse_runner_args(build_parser(), argv)


def build_cfg(args) -> Config:
    cfg = load_run_config(args.config, args.launcher, args.cfg_options,
                          args.work_dir, args)
    if args.amp:
        enable_amp(cfg)
        print_log('mixed precision: ' + cfg.optim_wrapper.type,
                  logger='current', level=logging.INFO)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    setup_cpu_distributed(cfg, args.launcher)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    with hold_work_dir(cfg.work_dir):
        runner = RUNNERS.build(cfg)  # ASDARunner unless the config names one
        runner.train()
    return runner


if __name__ == '__main__':
    main()
