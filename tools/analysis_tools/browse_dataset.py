"""Look at the samples as the model receives them.

::

    python tools/analysis_tools/browse_dataset.py CONFIG [--split val testA] \\
        [--num 20] [--out-dir work_dirs/browse] [--pipeline train|test]

Each sample goes through the config's train or test pipeline (load, flip,
photometric distortion, resize, pack) and is drawn as the packed image (the
model's input before normalisation and padding) with its expression above it
and the ground-truth mask over it. With the train pipeline, a flipped sample
says so: the expression shown is the one the model reads, with left / right
swapped, and the original follows in brackets. One PNG per sample:
``OUT_DIR/<split>/<index>_ref<ref_id>_sent<sent_id>.png``. Samples are one
per expression (``sample_mode='sentence'``), drawn at random with ``--seed``.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

import mmcv
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, VISUALIZERS

from asda.engine import apply_data_args, read_config
from asda.engine.cli import merge_cfg_options
from asda.utils.arg_types import seed


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Draw dataset samples as the model receives them')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--split', nargs='+', default=None,
        help='split(s) to draw (e.g. train val testA testB); default: the '
        "split of the chosen pipeline's dataloader")
    parser.add_argument('--num', type=int, default=10,
                        help='samples per split (default 10)')
    parser.add_argument('--out-dir', default=None,
                        help='default: work_dirs/browse/<config name>')
    parser.add_argument('--pipeline', choices=['train', 'test'],
                        default='train',
                        help='train: flip (with the left/right word swap) and '
                        'photometric distortion as in training; test: as in '
                        'evaluation')
    parser.add_argument('--seed', type=seed, default=0,
                        help='seed of the sample choice and of the random '
                        'transforms')
    parser.add_argument('--data-root', help='data root of the dataset')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value (xxx=yyy format)')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error(f'--num must be at least 1, got {args.num}')
    return args


def build_dataset(cfg: Config, split: str, pipeline: str):
    """The test dataloader's dataset (one sample per expression) on
    ``split``, with the train or test pipeline."""
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    source = cfg.train_dataloader if pipeline == 'train' else cfg.test_dataloader
    dataset_cfg.pipeline = source.dataset.pipeline
    dataset_cfg.split = split
    dataset_cfg.sample_mode = 'sentence'
    return DATASETS.build(dataset_cfg)


def draw_sample(visualizer, data: dict, original_text: str) -> np.ndarray:
    """The RGB drawing of one packed sample."""
    sample = data['data_samples']
    meta = sample.metainfo
    image = data['inputs'].numpy().transpose(1, 2, 0)[..., ::-1]  # BGR -> RGB
    text = meta.get('text', '')
    flipped = bool(meta.get('flip'))
    caption = 'ground truth'
    if flipped:
        caption += ' (flipped)'
        if text != original_text:
            text = f'{text}   [flipped; was: {original_text}]'
    return visualizer.draw_referring(
        image, text, gt_mask=sample.gt_sem_seg.data.numpy()[0],
        gt_caption=caption)


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    args = parse_args(argv)
    cfg = read_config(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    apply_data_args(cfg, data_root=args.data_root)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    out_dir = args.out_dir or osp.join(
        'work_dirs', 'browse', osp.splitext(osp.basename(args.config))[0])
    loader = cfg.train_dataloader if args.pipeline == 'train' else cfg.test_dataloader
    splits = args.split or [loader.dataset.split]
    vis_cfg = dict(cfg.visualizer, name=f'browse_dataset_{id(cfg)}',
                   vis_backends=None, save_dir=None)
    visualizer = VISUALIZERS.build(vis_cfg)
    rng = np.random.default_rng(args.seed)
    records = []
    for split in splits:
        dataset = build_dataset(cfg, split, args.pipeline)
        count = min(args.num, len(dataset))
        indices = sorted(rng.choice(len(dataset), size=count, replace=False))
        os.makedirs(osp.join(out_dir, split), exist_ok=True)
        for idx in indices:
            # mmcv's random transforms; numpy takes seeds below 2**32
            np.random.seed((args.seed + int(idx)) % 2**32)
            info = dataset.get_data_info(int(idx))
            data = dataset[int(idx)]
            drawn = draw_sample(visualizer, data, info['text'])
            meta = data['data_samples'].metainfo
            name = f'{idx:05d}_ref{meta["ref_id"]}_sent{meta["sent_id"]}.png'
            path = osp.join(out_dir, split, name)
            mmcv.imwrite(mmcv.rgb2bgr(drawn), path)
            records.append(dict(split=split, index=int(idx), file=path,
                                text=meta['text'], original_text=info['text'],
                                flip=bool(meta.get('flip')),
                                input_shape=tuple(data['inputs'].shape[1:])))
        print(f'{split}: {count} samples -> {osp.join(out_dir, split)}')
    return records


if __name__ == '__main__':
    main()
