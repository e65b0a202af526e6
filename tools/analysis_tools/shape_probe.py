"""Linear shape probe of a CLIPBackbone: shape accuracy per layer.

    python tools/analysis_tools/shape_probe.py [CONFIG] [--pretrained PATH] \
        [--seed 12345] [--train-scenes 300] [--test-scenes 150] [--out FILE]

Builds the config's ``model.backbone`` (a ``CLIPBackbone``; ``--pretrained``
overrides its ``pretrained``, loaded as training loads it), averages each
object's patch tokens under its mask in fresh synthetic scenes, and fits a
logistic regression of the object's shape (5 classes, chance 20%) at every
layer AFS can choose (the neck's ``low_layers`` and ``mid_layers``) and at
the top layer (``top_layer``). Prints one row per layer; ``--out`` writes
the figures as JSON.
"""
import argparse
import json
import logging
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

import asda  # noqa: F401  (registers the components)
from asda.engine.cli import positive_int, read_config
from asda.evaluation.shape_probe import shape_probe
from asda.utils.atomic import atomic_write

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHANCE = 20.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=osp.join(
        ROOT, 'configs/asda/asda_tiny_synthetic.py'))
    parser.add_argument('--pretrained', help='CLIP checkpoint (open_clip / '
                        'OpenAI state dict); default: the config\'s')
    parser.add_argument('--seed', type=int, default=12345,
                        help='seed of the probe\'s scenes')
    parser.add_argument('--train-scenes', type=positive_int, default=300)
    parser.add_argument('--test-scenes', type=positive_int, default=150)
    parser.add_argument('--out', help='write the figures here (JSON)')
    return parser.parse_args(argv)


def probe_layers(cfg: Config) -> dict:
    """Layer number -> its group ('low', 'mid', 'top') from the AFS neck."""
    neck = cfg.model.neck
    groups = {layer: 'low' for layer in neck.low_layers}
    groups.update({layer: 'mid' for layer in neck.mid_layers})
    groups[neck.top_layer] = 'top'
    return dict(sorted(groups.items()))


def build_backbone(cfg: Config, pretrained=None):
    """The config's CLIPBackbone with its weights loaded (``pretrained``
    overrides the config's)."""
    from mmseg.registry import MODELS
    bcfg = cfg.model.backbone.copy()
    if pretrained is not None:
        if not osp.isfile(pretrained):
            raise FileNotFoundError(f'--pretrained: no such file {pretrained}')
        bcfg.pretrained = pretrained
    backbone = MODELS.build(bcfg)
    # mmengine logs every parameter's init at INFO: keep the console readable
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        backbone.init_weights()
    finally:
        logger.setLevel(level)
    return backbone.eval()


def run_probe(cfg: Config, pretrained=None, seed: int = 12345,
              train_scenes: int = 300, test_scenes: int = 150) -> dict:
    """Probe accuracy per layer: ``{layer: dict(group, accuracy)}``."""
    layers = probe_layers(cfg)
    img_size = cfg.model.backbone.get('img_size', 224)
    torch.manual_seed(0)
    acc = shape_probe(build_backbone(cfg, pretrained), list(layers), seed=seed,
                      num_train_scenes=train_scenes,
                      num_test_scenes=test_scenes, img_size=img_size)
    return {layer: dict(group=group, accuracy=acc[layer])
            for layer, group in layers.items()}


def format_table(result: dict) -> str:
    lines = [f'shape probe (5 classes, chance {CHANCE:.0f}%)',
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
        atomic_write(args.out, json.dumps(dict(
            config=args.config, pretrained=args.pretrained or
            cfg.model.backbone.get('pretrained'), seed=args.seed,
            train_scenes=args.train_scenes, test_scenes=args.test_scenes,
            chance=CHANCE, layers={str(k): v for k, v in result.items()}),
            indent=1))
    return result


if __name__ == '__main__':
    main()
