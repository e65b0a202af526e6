"""Training data pipeline throughput (samples/s for one worker).

Builds the training dataset of a dataset config (default: the RefCOCO config,
416 x 416 letterbox, flip, photometric distortion) on the synthetic referring
dataset, which is generated into a temporary folder when ``--data-root`` does
not hold one, then times ``dataset[i]`` in this single process, the work one
dataloader worker does.

Usage::

    python tools/analysis_tools/benchmark_data.py --num-samples 1000
"""
import argparse
import os.path as osp
import tempfile
import time

from mmengine.config import Config

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEFAULT_CONFIG = osp.join(ROOT, 'configs/asda/_base_/datasets/refcoco.py')


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='config whose train_dataloader.dataset is used')
    parser.add_argument('--data-root', default=None,
                        help='synthetic dataset (refer format); generated '
                        'into a temporary folder if missing')
    parser.add_argument('--num-samples', type=int, default=1000,
                        help='samples timed (default 1000)')
    parser.add_argument('--warmup', type=int, default=20,
                        help='samples loaded before timing (default 20)')
    parser.add_argument('--num-images', type=int, default=110,
                        help='images to generate when generating')
    parser.add_argument('--img-scale', type=int, nargs=2, default=None,
                        help='override the config\'s Resize scale')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the generated dataset')
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def benchmark(cfg: Config, data_root: str, num_samples: int, warmup: int,
              img_scale=None) -> float:
    """Samples per second of ``cfg.train_dataloader.dataset`` on data_root."""
    import numpy as np
    from mmseg.registry import DATASETS

    import asda  # noqa: F401  (registers the dataset and transforms)

    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.update(
        data_root=data_root,
        ann_file='refcoco/instances.json',
        split_file='refcoco/refs(unc).p',
        data_prefix=dict(img_path='images/'),
        split='train')
    if img_scale is not None:
        for t in ds_cfg.pipeline:
            if t['type'] in ('ReferringResize', 'Resize'):
                t['scale'] = tuple(img_scale)
    dataset = DATASETS.build(ds_cfg)
    np.random.seed(0)
    n = len(dataset)
    for i in range(warmup):
        dataset[i % n]
    start = time.perf_counter()
    for i in range(num_samples):
        dataset[i % n]
    elapsed = time.perf_counter() - start
    return num_samples / elapsed


def main(argv=None) -> float:
    args = parse_args(argv)
    # As in a dataloader worker: torch's worker loop runs with one torch
    # thread, mmengine's env_cfg sets opencv_num_threads=0.
    import cv2
    import torch
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    from asda.engine import read_config  # names the file of a syntax error
    cfg = read_config(args.config)
    tmp = None
    data_root = args.data_root
    if data_root is None or not osp.exists(
            osp.join(data_root, 'refcoco', 'refs(unc).p')):
        from asda.synthetic.refer import make_synthetic_refcoco
        if data_root is None:
            tmp = tempfile.TemporaryDirectory()
            data_root = tmp.name
        make_synthetic_refcoco(data_root, num_images=args.num_images,
                               seed=args.seed)
    try:
        rate = benchmark(cfg, data_root, args.num_samples, args.warmup,
                         args.img_scale)
    finally:
        if tmp is not None:
            tmp.cleanup()
    scale = args.img_scale or [
        t['scale'] for t in cfg.train_dataloader.dataset.pipeline
        if t['type'] in ('ReferringResize', 'Resize')
    ]
    print(f'{osp.basename(args.config)} train pipeline (resize {scale}): '
          f'{rate:.1f} samples/s per worker ({args.num_samples} samples)')
    return rate


if __name__ == '__main__':
    main()
