"""FLOPs and parameters of a referring segmentor, per part.

    python tools/analysis_tools/get_flops.py CONFIG [--shape 416 416] [--context 17]

Counts one image of the given size and one expression of the configured
context length with mmengine's FlopAnalyzer plus handles for fused
attention (``asda.utils.flops``). FLOPs follow fvcore's convention: one
fused multiply-add = one FLOP (multiply by 2 for "mathematical" FLOPs).
Element-wise ops (additions, activations, softmax) are not counted. The
backbone's pretrained weights are not loaded (nothing is downloaded).
"""
import argparse

from mmengine.config import DictAction
from mmengine.registry import init_default_scope

PARTS = (('backbone', 'backbone (CLIP image + text)'), ('neck', 'neck (AFSF)'),
         ('decode_head', 'head (WGDA)'))


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs='+', default=None,
                        help='input H W (one value: square); default: the '
                        'backbone img_size')
    parser.add_argument('--context', type=int, default=None,
                        help='text context length (default: the config\'s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--show-unsupported', action='store_true',
                        help='list the ops the counter skipped')
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from asda.engine.cli import merge_cfg_options, read_config
    cfg = read_config(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    cfg.model.backbone.pretrained = None  # never download for counting
    if args.context is not None:
        cfg.model.backbone.context_length = args.context
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS

    import asda  # noqa: F401  (registers the components)
    from asda.utils.flops import count_by_part

    model = MODELS.build(cfg.model)
    if args.shape is None:
        shape = tuple(model.backbone.img_size)
    elif len(args.shape) == 1:
        shape = (args.shape[0], args.shape[0])
    else:
        shape = tuple(args.shape[:2])
    stats = count_by_part(model, shape)
    backbone_flops = stats['backbone']['flops']
    total = stats['total']

    print(f'config: {args.config}')
    print(f'input: 1 x 3 x {shape[0]} x {shape[1]}, context length '
          f'{model.backbone.context_length}  '
          f'(GFLOPs: 1 multiply-add = 1 FLOP)')
    line = '-' * 66
    print(line)
    print(f'{"part":<32}{"GFLOPs":>10}{"% total":>10}{"params (M)":>14}')
    print(line)
    for key, name in PARTS:
        if key not in stats:
            continue
        flops, params = stats[key]['flops'], stats[key]['params']
        print(f'{name:<32}{flops / 1e9:>10.3f}'
              f'{100 * flops / max(total["flops"], 1):>9.1f}%'
              f'{params / 1e6:>14.2f}')
    print(line)
    print(f'{"total":<32}{total["flops"] / 1e9:>10.3f}{"100.0%":>10}'
          f'{total["params"] / 1e6:>14.2f}')
    extra = sum(stats[k]['flops'] for k in ('neck', 'decode_head') if k in stats)
    print(f'neck + head = {100 * extra / max(backbone_flops, 1):.1f}% of the '
          f'backbone\'s FLOPs')
    print('(x2 for multiplies and adds counted separately, the convention of '
          'the release\'s cost anchor in docs/design.md)')
    if args.show_unsupported:
        print('not counted:', dict(stats['unsupported']))
    return stats


if __name__ == '__main__':
    main()
