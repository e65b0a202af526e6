"""The built-in end-to-end demo (``make demo``): train and evaluate ASDA on
the synthetic referring dataset, on a CPU, in minutes.

Steps (:func:`asda.synthetic.demo.refer_demo`): generate ``data/synthetic``
if missing; train the tiny-CLIP config; evaluate val / testA / testB; a
control evaluation of the same checkpoint on val with each expression
replaced by another ref's expression of the same image (a model that reads
the text must score far lower); write ``metrics.json`` and ``examples.png``
(image, expression, prediction, ground truth) into the work directory and
print the metric table.
"""
import argparse
import os.path as osp

from asda.synthetic.demo import add_demo_arguments, refer_demo

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_demo_arguments(
        parser, config=osp.join(ROOT, 'configs/asda/asda_tiny_synthetic.py'),
        work_dir=osp.join(ROOT, 'work_dirs/demo'),
        data_root=osp.join(ROOT, 'data/synthetic'))
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None) -> dict:
    return refer_demo(**vars(parse_args(argv)))


if __name__ == '__main__':
    main()
