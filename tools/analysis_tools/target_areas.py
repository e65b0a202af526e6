"""How large are the targets? The share of the image each expression's
target covers, per split: its 10th, 50th and 90th percentiles.

    python tools/analysis_tools/target_areas.py REFS_FILE INSTANCES_JSON \
        [--out areas.json]

Works on the refer release's files (``refs(unc).p``, ``instances.json``)
and on gRefCOCO's (``grefs(unc).json``): a target's area is the sum of the
COCO ``area`` of its annotations (the union, where they do not overlap),
over the image's width x height. Each expression counts once (as evaluation
counts them); no-target expressions are counted apart.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List

import numpy as np

from asda.datasets import load_refs
from asda.datasets.grefcoco import gref_target_ids
from asda.utils.arg_types import output_file
from asda.utils.atomic import write_json

#: The percentiles reported.
PERCENTILES = (10, 50, 90)


def target_shares(refs: List[dict], coco: dict) -> Dict[str, dict]:
    """Per split: ``shares`` (one per expression with a target: the share
    of the image its target covers, in [0, 1]) and ``no_target`` (the
    number of expressions without one)."""
    images = {img['id']: img for img in coco['images']}
    anns = {ann['id']: ann for ann in coco['annotations']}
    out: Dict[str, dict] = {}
    for ref in refs:
        split = out.setdefault(ref['split'], dict(shares=[], no_target=0))
        where = f'ref_id={ref["ref_id"]}'
        ids = gref_target_ids(ref, where)
        if not ids:
            split['no_target'] += len(ref['sentences'])
            continue
        missing = [i for i in ids if i not in anns]
        if missing:
            raise ValueError(f'{where}: annotations {missing} are not in the '
                             'instances file')
        img = images[anns[ids[0]]['image_id']]
        share = min(1.0, sum(anns[i]['area'] for i in ids) /
                    (img['width'] * img['height']))
        split['shares'] += [share] * len(ref['sentences'])
    return out


def summarize(shares: Dict[str, dict]) -> Dict[str, dict]:
    """Per split: the number of target expressions, the percentiles of
    :data:`PERCENTILES` (percent of the image) and the no-target count."""
    return {split: dict(
        expressions=len(v['shares']), no_target=v['no_target'],
        **({f'p{q}': round(float(np.percentile(v['shares'], q)) * 100, 2)
            for q in PERCENTILES} if v['shares'] else {}))
        for split, v in sorted(shares.items())}


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('refs', help='refs(unc).p or grefs(unc).json')
    parser.add_argument('instances', help='the COCO instances.json')
    parser.add_argument('--out', type=output_file, default=None,
                        help='also write the summary as JSON')
    return parser


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    for path in (args.refs, args.instances):
        if not osp.isfile(path):
            parser.error(f'no such file {path}')
    with open(args.instances, encoding='utf-8') as f:
        coco = json.load(f)
    summary = summarize(target_shares(load_refs(args.refs), coco))
    print(f'target area, percent of the image ({args.refs}):')
    print(f'  {"split":8s} {"exprs":>6s} ' +
          ' '.join(f'{"p" + str(q):>6s}' for q in PERCENTILES) + '  no-target')
    for split, row in summary.items():
        print(f'  {split:8s} {row["expressions"]:6d} ' +
              ' '.join(f'{row.get("p" + str(q), float("nan")):6.1f}'
                       for q in PERCENTILES) + f'  {row["no_target"]:9d}')
    if args.out:
        write_json(args.out, summary)
    return summary


if __name__ == '__main__':
    main()
    sys.exit(0)
