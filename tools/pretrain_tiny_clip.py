"""Stage one of the demo: contrastive pretraining of the tiny CLIP.

    python tools/pretrain_tiny_clip.py [--config CONFIG] [--out PATH] \
        [--steps 2500] [--batch-size 32] [--seed 1000] [--device cpu]

Trains the open_clip CLIP that the config's ``model.backbone`` (a
``CLIPBackbone``) is built from, with open_clip's ``ClipLoss`` on captions
plus the dense region-phrase term (each weighted: ``--contrastive-weight``,
``--dense-weight``), on captioned
synthetic scenes drawn fresh from ``--seed`` (:mod:`asda.synthetic.captions`:
images, captions and, for the dense term, each object's mask and "colour
shape" phrase, never the referring splits' images or expressions; half of
each batch are twin groups whose captions differ only in shape or only in
position; :mod:`asda.synthetic.clip_pretrain` holds the steps). The dense
term's projection is not saved. Writes

* ``PATH``: an open_clip state dict (fp16), loadable as
  ``CLIPBackbone(pretrained=PATH)``;
* ``PATH`` with ``.json``: provenance (command, seeds, steps, generator
  version, machine, time, loss curve) and the zero-shot figures: image ->
  caption top-1 retrieval among N held-out images (chance 1/N), hard-negative
  (twin) accuracies and the cosines of each twin pair's image and caption
  embeddings, the relation words' text cosines, the grounding accuracy,
  held-out loss against shuffled captions, and the linear shape
  probe at every layer AFS can choose and at the top layer — of the
  untrained model and of the result.

``--compare REFERENCE.json`` checks the figures against a reference run's:
the reference is read and checked first (it must hold every figure as a
number, and only figures this run measures), and an ``--out`` whose
provenance file is the reference is refused, before any training.
"""
import argparse
import os
import os.path as osp
import shlex
import sys
import time
from typing import Optional

import torch

from asda.engine.cli import read_config
from asda.synthetic.captions import MIN_BATCH_SIZE, CaptionStream
from asda.synthetic.clip_pretrain import (
    DEFAULT_WEIGHTS,
    build_dense_terms,
    build_pretrain_clip,
    compare_runs,
    heldout_set,
    read_reference,
    save_open_clip,
    train_steps,
    zero_shot_figures,
)
from asda.synthetic.refer import GENERATOR_VERSION
from asda.utils.arg_types import output_file, positive_int, same_file
from asda.utils.atomic import write_json
from asda.utils.malloc import apply_env_cfg
from asda.utils.provenance import machine_info, portable_paths

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=osp.join(
        ROOT, 'configs/asda/asda_tiny_synthetic.py'),
        help='a config whose model.backbone is the CLIPBackbone to pretrain')
    parser.add_argument('--out', type=output_file, default=osp.join(
        ROOT, 'work_dirs/pretrain_tiny_clip/tiny_clip_synthetic.pt'),
        help='the checkpoint; its provenance is written beside it with .json')
    # the CPU route's recipe (docs/demo.md, Stage one), which made the
    # committed checkpoints/tiny_clip_synthetic.pt: about 26 minutes of
    # training on 2 quiet cores
    parser.add_argument('--steps', type=positive_int, default=2500,
                        help='training steps (default 2500)')
    parser.add_argument('--batch-size', type=positive_int, default=32,
                        help='captioned scenes per step (default 32)')
    parser.add_argument('--lr', type=float, default=1e-3,
                        help='peak learning rate of AdamW (default 1e-3)')
    parser.add_argument('--weight-decay', type=float, default=0.05,
                        help='AdamW weight decay (default 0.05)')
    parser.add_argument('--warmup', type=int, default=10, help='warm-up steps')
    parser.add_argument('--twin-share', type=float, default=0.5,
                        help='share of each batch in hard-negative twin groups')
    parser.add_argument('--contrastive-weight', type=float,
                        default=DEFAULT_WEIGHTS['contrastive'],
                        help="weight of open_clip's ClipLoss on the captions")
    parser.add_argument('--dense-weight', type=float,
                        default=DEFAULT_WEIGHTS['dense'],
                        help='weight of the region-phrase term (0: captions only)')
    parser.add_argument('--grounding-weight', type=float,
                        default=DEFAULT_WEIGHTS['grounding'],
                        help='weight of the phrase-grounding term (referring '
                        'expressions against patch tokens; 0: none)')
    parser.add_argument('--dense-layer', type=positive_int, default=None,
                        help='visual layer the dense terms read (default: the top)')
    parser.add_argument('--expressions-per-image', type=positive_int, default=2,
                        help='referring expressions per image for the grounding term')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes rendering the scenes (0: in the trainer)')
    parser.add_argument('--amp', action='store_true',
                        help='bf16 autocast (on a GPU)')
    parser.add_argument('--max-train-minutes', type=float, default=None,
                        help='stop training after this long (the provenance '
                        'says at which step)')
    parser.add_argument('--seed', type=int, default=1000,
                        help='seed of the training scenes and the init')
    parser.add_argument('--heldout', type=positive_int, default=100,
                        help='held-out images for retrieval (chance 1/N)')
    parser.add_argument('--heldout-seed', type=int, default=2000,
                        help='seed of the held-out retrieval images')
    parser.add_argument('--probe-seed', type=int, default=12345,
                        help='seed of the shape probe\'s scenes')
    parser.add_argument('--probe-scenes', type=positive_int, nargs=2,
                        default=(300, 150), metavar=('TRAIN', 'TEST'),
                        help='scenes that train and test the shape probe '
                        '(default 300 150)')
    parser.add_argument('--skip-baseline', action='store_true',
                        help='do not measure the untrained model first')
    parser.add_argument('--log-every', type=positive_int, default=10,
                        help='steps between two log lines (default 10)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu', help='where to train (default cuda when '
                        'available, else cpu)')
    parser.add_argument('--compare', metavar='PROVENANCE_JSON', default=None,
                        help='after training, compare the zero-shot figures with '
                        "another run's provenance (the committed checkpoint's: "
                        'checkpoints/tiny_clip_synthetic.json), checked before '
                        'training; exit 1 if any differs by more than --tolerance '
                        'points')
    parser.add_argument('--tolerance', type=float, default=2.0,
                        help='largest difference from --compare\'s figures, in '
                        'points (default 2.0)')
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser, args) -> None:
    """What the types cannot check alone, before any work: the batch size
    the caption stream takes, the twin share, and the provenance file
    beside ``--out`` (writable, and not the checkpoint itself)."""
    if args.batch_size < MIN_BATCH_SIZE:
        parser.error(f'--batch-size must be >= {MIN_BATCH_SIZE}, got '
                     f'{args.batch_size} (the caption stream\'s smallest batch)')
    if not 0 <= args.twin_share <= 1:
        parser.error(f'--twin-share must be in [0, 1], got {args.twin_share}')
    if same_file(provenance_path(args.out), args.out):
        parser.error(f'--out {args.out}: the provenance is written to '
                     f'{provenance_path(args.out)}, the checkpoint itself; give '
                     'the checkpoint another extension (e.g. .pt)')
    try:
        output_file(provenance_path(args.out))
    except argparse.ArgumentTypeError as err:
        parser.error(f'--out {args.out}: its provenance file {err}')


def report(name: str, f: dict) -> str:
    probe = ', '.join(f'{k} ({v["group"]}) {v["accuracy"]:.1f}'
                      for k, v in f['shape_probe'].items())
    grounding = ''.join(f', {k} {v:.1f}' for k, v in f.get('grounding', {}).items())
    cosines = ', '.join(f'{k} {v:.3f}' for k, v in f['text_cosines'].items())
    twin_cosines = ', '.join(f'{k} {v["image"]:.3f} / {v["caption"]:.3f}'
                             for k, v in f['twin_cosines'].items())
    return (f'[{name}] retrieval top-1 {f["retrieval_top1"]:.1f}% among '
            f'{f["num_heldout"]} (chance {f["chance_top1"]:.1f}%); hard '
            f'negatives: shape {f["shape_negative_acc"]:.1f}%, position '
            f'{f["position_negative_acc"]:.1f}%, size {f["size_negative_acc"]:.1f}% '
            f'(chance 50%); cosine of base and twin, image / caption: {twin_cosines}; '
            f'text cosines: {cosines}; '
            + (f'grounding accuracy by kind:{grounding[1:]}; ' if grounding else '') +
            f'held-out loss '
            f'{f["loss"]:.3f} (shuffled captions {f["loss_shuffled"]:.3f}); '
            f'shape probe by layer (chance 20%): {probe}')


def provenance_path(out: str) -> str:
    """The provenance file written beside the checkpoint ``out``."""
    return osp.splitext(out)[0] + '.json'


def checked_reference(args, cfg) -> Optional[dict]:
    """The ``--compare`` reference, read and checked before any work
    (:func:`asda.synthetic.clip_pretrain.read_reference`); None without
    ``--compare``.

    Raises:
        ValueError: ``--out``'s provenance file is the reference (the run
            would overwrite it, then compare with itself), or the reference
            is malformed.
        FileNotFoundError: no reference file.
    """
    if args.compare is None:
        return None
    written = provenance_path(args.out)
    if same_file(written, args.compare):
        raise ValueError(f'--out {args.out} writes its provenance to {written}, '
                         f'which is the --compare reference {args.compare}: the '
                         f'run would compare with itself; choose another --out')
    return read_reference(args.compare, cfg)


def compare(provenance: dict, reference: dict, reference_file: str,
            tolerance: float) -> bool:
    """Print the zero-shot figures beside the reference's; whether all are
    within ``tolerance``."""
    rows = compare_runs(provenance, reference, tolerance)
    print(f'[pretrain] zero-shot figures against {reference_file} '
          f'(tolerance {tolerance:g} points):')
    for name, ours, theirs, ok in rows:
        print(f'  {name:26s} {ours:6.1f}  reference {theirs:6.1f}  '
              f'{"ok" if ok else "DIFFERS"}')
    return all(ok for *_, ok in rows)


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    cfg = read_config(args.config)
    reference = checked_reference(args, cfg)
    apply_env_cfg(cfg.get('env_cfg'))  # glibc's heap pad (asda.utils.malloc)
    torch.manual_seed(args.seed)
    model, tokenizer = build_pretrain_clip(cfg.model.backbone)
    print(f'[pretrain] {sum(p.numel() for p in model.parameters()):,} '
          f'parameters; {args.steps} steps of {args.batch_size} on '
          f'{args.device}', flush=True)
    img_size = cfg.model.backbone.get('img_size', 224)
    heldout = heldout_set(args.heldout_seed, args.heldout, img_size)
    tmp = args.out + '.tmp-probe.pt'

    def figures(dense=None):
        return zero_shot_figures(model, tokenizer, heldout, cfg, tmp,
                                 args.probe_seed, args.probe_scenes, dense)

    result = dict(before=None)
    if not args.skip_baseline:
        result['before'] = figures()
        print(report('untrained', result['before']), flush=True)
    model.to(args.device)
    weights = dict(contrastive=args.contrastive_weight, dense=args.dense_weight,
                   grounding=args.grounding_weight)
    # the dense terms' projections train beside the model and are not saved
    dense = build_dense_terms(model, weights, args.dense_layer)
    stream = CaptionStream(args.seed, args.batch_size, args.twin_share, img_size,
                           args.expressions_per_image)
    train_start = time.time()
    history = train_steps(
        model, tokenizer, stream, args.steps, lr=args.lr,
        weight_decay=args.weight_decay, warmup=args.warmup,
        log_every=args.log_every, device=args.device, weights=weights,
        dense=dense, workers=args.workers, amp=args.amp,
        max_seconds=None if args.max_train_minutes is None
        else 60 * args.max_train_minutes,
        log=lambda msg: print(f'[pretrain] {msg}  ({time.time() - train_start:.0f} s)',
                              flush=True))
    train_seconds = time.time() - train_start
    result['after'] = figures(dense)
    os.remove(tmp)
    save_open_clip(model, args.out)
    print(report('pretrained', result['after']), flush=True)
    provenance = dict(
        # the tool and its arguments, also when main() is called in-process
        command=' '.join(shlex.quote(a) for a in [sys.executable, osp.abspath(__file__)] + (
            sys.argv[1:] if argv is None else [str(a) for a in argv])),
        args=vars(args), config=args.config, seed=args.seed, steps=args.steps,
        steps_done=history[-1]['step'], batch_size=args.batch_size,
        loss_weights=weights, dense_terms={
            name: dict(layer=term.layer,
                       final_logit_scale=term.logit_scale.exp().item(), saved=False)
            for name, term in dense.items()},
        generator_version=GENERATOR_VERSION,
        machine=machine_info(args.device), seconds_train=round(train_seconds, 1),
        seconds_total=round(time.time() - start, 1), loss_history=history,
        zero_shot=result['after'], zero_shot_untrained=result['before'],
        checkpoint_bytes=osp.getsize(args.out))
    # paths relative to the checkout (or file names): no folder of this machine
    provenance = portable_paths(provenance, ROOT)
    write_json(provenance_path(args.out), provenance)
    print(f'[pretrain] wrote {args.out} ({osp.getsize(args.out) / 2**20:.1f} '
          f'MiB) and its provenance {provenance_path(args.out)}; '
          f'{provenance["seconds_total"]:.0f} s', flush=True)
    if reference is not None:
        provenance['comparison_ok'] = compare(provenance, reference, args.compare,
                                              args.tolerance)
    return provenance


if __name__ == '__main__':
    sys.exit(0 if main().get('comparison_ok', True) else 1)
