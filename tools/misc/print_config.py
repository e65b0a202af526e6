"""Print a config as the tools see it, bases merged and
``--cfg-options`` applied: ``python tools/misc/print_config.py CONFIG``."""
import argparse
from typing import Optional, Sequence

from mmengine.config import Config, DictAction

from asda.engine.cli import merge_cfg_options, read_config


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Print the full config (bases merged, overrides applied)')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value (xxx=yyy format)')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None):
    return build_parser().parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Config:
    args = parse_args(argv)
    cfg = read_config(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    print(cfg.pretty_text)
    return cfg


if __name__ == '__main__':
    main()
