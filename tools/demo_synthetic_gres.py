"""The gRefCOCO demo (``make demo-gres``): ASDA with the no-target output,
trained and evaluated on the synthetic gRefCOCO set, on a CPU, in minutes.

Steps (:func:`asda.synthetic.demo.gres_demo`): generate
``data/synthetic_gres`` if missing (:mod:`asda.synthetic.gres`: expressions
of one object, several or none); train
``configs/asda/asda_tiny_synthetic_gres.py`` (from the pretrained tiny CLIP
when the config names one, as ``make demo``); evaluate val / testA / testB
with :class:`asda.GRESMetric` (gIoU, cIoU, N-acc, T-acc, Pr@X) and break val
down by form (single, multi, no-target); the text-only control: a
bag-of-words classifier of no-target vs target expressions, trained on the
train split, scored on val (balanced accuracy), beside the model's N-acc and
T-acc (the no-target decision should need the image); write
``metrics.json`` and ``examples.png`` into the work directory and print the
tables.
"""
import argparse
import os.path as osp

from asda.synthetic.demo import add_demo_arguments, gres_demo

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_demo_arguments(
        parser, config=osp.join(ROOT, 'configs/asda/asda_tiny_synthetic_gres.py'),
        work_dir=osp.join(ROOT, 'work_dirs/demo_gres'),
        data_root=osp.join(ROOT, 'data/synthetic_gres'))
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None) -> dict:
    return gres_demo(**vars(parse_args(argv)))


if __name__ == '__main__':
    main()
