"""Linear shape probe of a CLIPBackbone: shape accuracy per layer.

    python tools/analysis_tools/shape_probe.py [CONFIG] [--pretrained PATH] \
        [--seed 12345] [--train-scenes 300] [--test-scenes 150] [--out FILE]

Builds the config's ``model.backbone`` (a ``CLIPBackbone``; ``--pretrained``
overrides its ``pretrained``, loaded as training loads it), averages each
object's patch tokens under its mask in fresh synthetic scenes, and fits a
logistic regression of the object's shape (5 classes, chance 20%) at every
layer AFS can choose (the neck's ``low_layers`` and ``mid_layers``) and at
the top layer (``top_layer``): :func:`asda.synthetic.probes.run_probe`.
Prints one row per layer; ``--out`` writes the figures as JSON.
"""
import argparse
import os.path as osp

from asda.engine.cli import read_config
from asda.synthetic.probes import SHAPE_CHANCE, run_probe
from asda.utils.arg_types import positive_int
from asda.utils.atomic import write_json

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=osp.join(
        ROOT, 'configs/asda/asda_tiny_synthetic.py'),
        help='config whose model.backbone is probed (default: the demo config)')
    parser.add_argument('--pretrained', help='CLIP checkpoint (open_clip / '
                        'OpenAI state dict); default: the config\'s')
    parser.add_argument('--seed', type=int, default=12345,
                        help='seed of the probe\'s scenes')
    parser.add_argument('--train-scenes', type=positive_int, default=300,
                        help='scenes whose objects train the probe (default 300)')
    parser.add_argument('--test-scenes', type=positive_int, default=150,
                        help='scenes whose objects test it (default 150)')
    parser.add_argument('--out', help='write the figures here (JSON)')
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def format_table(result: dict) -> str:
    lines = [f'shape probe (5 classes, chance {SHAPE_CHANCE:.0f}%)',
             '| layer | group | accuracy |', '|---|---|---|']
    lines += [f'| {layer} | {r["group"]} | {r["accuracy"]:.1f} |'
              for layer, r in result.items()]
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = read_config(args.config)
    result = run_probe(cfg, args.pretrained, args.seed, args.train_scenes,
                       args.test_scenes)
    print(format_table(result))
    if args.out:
        write_json(args.out, dict(
            config=args.config, pretrained=args.pretrained or
            cfg.model.backbone.get('pretrained'), seed=args.seed,
            train_scenes=args.train_scenes, test_scenes=args.test_scenes,
            chance=SHAPE_CHANCE, layers={str(k): v for k, v in result.items()}))
    return result


if __name__ == '__main__':
    main()
