"""Make a training checkpoint shareable:
``python tools/misc/publish_model.py IN OUT``.

Keeps the weights (``state_dict``) and ``meta`` (the config text, the
environment, the seed, the epoch / iteration it was saved at); drops what
only resuming needs: the optimizer state, the parameter schedulers and the
message hub (logged scalars, runtime info). The first 8 hex digits of the
result's sha256 are appended to the file name (the OpenMMLab convention,
``asda_refcoco.pth`` -> ``asda_refcoco-1a2b3c4d.pth``), so a download can be
checked with ``sha256sum``. The file is written atomically (temporary file,
fsync, rename), then read back (CRC check, load, sha256) and removed if it
does not hold what was hashed. The published checkpoint loads strictly into
the model built from its config (``tools/test.py``, ``RISInferencer``).

``--fp16`` stores the floating-point weights in float16 (half the size; a
model loads them into its float32 parameters). ``--provenance RESULTS_JSON``
writes ``OUT`` with ``.json`` (no hash) beside the checkpoint: the results
file's content (what the model measured, and how it was made) plus
``config`` (the config the checkpoint belongs to) and ``checkpoint`` (the
published file's name, sha256, size and weight dtype); absolute paths in it,
and in the checkpoint's ``meta``, become relative to the repository (others
their file name: :func:`asda.utils.provenance.portable_paths`).

The input is read by the project's one checkpoint reader: an empty, cut
short or corrupt file (an archive entry failing its CRC check) is refused
with an error naming it, and nothing is written; so are weights with a NaN
or inf value (a diverged run's), naming a tensor
(:func:`asda.engine.check_finite_weights`).
"""
import argparse
import hashlib
import io
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

import asda  # noqa: F401  (allow-lists the types mmengine checkpoints hold)
from asda.engine import UnreadableCheckpointError, check_finite_weights, read_checkpoint
from asda.utils.atomic import atomic_write, write_json
from asda.utils.provenance import portable_paths

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Top-level keys of an mmengine checkpoint that only resuming needs.
TRAINING_ONLY_KEYS = ('optimizer', 'param_schedulers', 'message_hub')


def publish(in_file: str, out_file: str, fp16: bool = False,
            portable: bool = False) -> str:
    """Write the published checkpoint; return its final path.

    Args:
        in_file (str): A checkpoint saved by the training runner.
        out_file (str): Output name; ``-<sha256[:8]>`` goes before its
            extension (``.pth`` if it has none).
        fp16 (bool): Store floating-point weights as float16.
        portable (bool): Make the absolute paths of ``meta`` portable.

    Raises:
        FileNotFoundError: ``in_file`` does not exist.
        UnreadableCheckpointError: ``in_file`` is empty, cut short, corrupt
            or not loadable, or the written file does not read back whole.
        ValueError: ``in_file`` holds no ``state_dict``.
        NonFiniteWeightsError: A weight of ``in_file`` is NaN or inf.
    """
    checkpoint = read_checkpoint(in_file)
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        keys = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(f'{in_file} is not a training checkpoint: no '
                         f'"state_dict" (found {keys})')
    check_finite_weights(checkpoint['state_dict'], in_file)
    published = {k: v for k, v in checkpoint.items()
                 if k not in TRAINING_ONLY_KEYS}
    if fp16:
        published['state_dict'] = {
            k: v.half() if v.is_floating_point() else v
            for k, v in published['state_dict'].items()}
    if portable and 'meta' in published:
        published['meta'] = portable_paths(published['meta'], ROOT)
    buffer = io.BytesIO()
    torch.save(published, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:8]
    stem, ext = osp.splitext(out_file)
    final = f'{stem}-{digest}{ext or ".pth"}'
    atomic_write(final, data)
    try:
        _check_written(final, hashlib.sha256(data).hexdigest())
    except UnreadableCheckpointError:
        os.unlink(final)
        raise
    return final


def write_provenance(final: str, out_file: str, results_file: str,
                     config: str) -> str:
    """Write ``out_file``'s provenance (``.json`` beside it): the results
    file's content, the config and the published file ``final``; return
    its path."""
    with open(results_file, encoding='utf-8') as f:
        record = json.load(f)
    if not isinstance(record, dict):
        raise ValueError(f'{results_file}: expected a JSON object, got '
                         f'{type(record).__name__}')
    with open(final, 'rb') as f:
        data = f.read()
    dtypes = sorted({str(v.dtype).replace('torch.', '') for v in
                     read_checkpoint(final)['state_dict'].values()
                     if v.is_floating_point()})
    record.update(config=config, checkpoint=dict(
        file=osp.basename(final), sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data), dtype=dtypes))
    path = osp.splitext(out_file)[0] + '.json'
    write_json(path, portable_paths(record, ROOT), newline=True)
    return path


def _check_written(path: str, sha256: str) -> None:
    """Read the published file back: it must load whole and hash to
    ``sha256``, the digest of the bytes meant to be written."""
    read_checkpoint(path)
    with open(path, 'rb') as f:
        if hashlib.sha256(f.read()).hexdigest() != sha256:
            raise UnreadableCheckpointError(
                f'{path} does not hold the bytes written (sha256 differs)')


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Strip a checkpoint for release (weights + meta) and add '
        'the first 8 hex digits of its sha256 to the file name')
    parser.add_argument('in_file', help='checkpoint saved by training')
    parser.add_argument('out_file', help='output file name (hash appended)')
    parser.add_argument('--fp16', action='store_true',
                        help='store the floating-point weights as float16')
    parser.add_argument('--provenance', metavar='RESULTS_JSON',
                        help='write OUT.json beside the checkpoint: this results '
                        "file's content, --config and the published file's "
                        'name, sha256 and size')
    parser.add_argument('--config', help='the config of the checkpoint (with '
                        '--provenance)')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.provenance is None) != (args.config is None):
        parser.error('--provenance and --config go together')
    for name in ('provenance', 'config'):
        path = getattr(args, name)
        if path is not None and not osp.isfile(path):
            parser.error(f'--{name}: no such file {path}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    try:
        final = publish(args.in_file, args.out_file, args.fp16,
                        portable=args.provenance is not None)
        if args.provenance is not None:
            written = write_provenance(final, args.out_file, args.provenance,
                                       args.config)
            print(f'provenance {written}')
    except (FileNotFoundError, UnreadableCheckpointError, ValueError) as err:
        sys.exit(f'error: {err}')
    print(f'published {final}')
    return final


if __name__ == '__main__':
    main()
