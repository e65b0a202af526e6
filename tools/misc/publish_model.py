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

The input is read by the project's one checkpoint reader: an empty, cut
short or corrupt file (an archive entry failing its CRC check) is refused
with an error naming it, and nothing is written; so are weights with a NaN
or inf value (a diverged run's), naming a tensor
(:func:`asda.engine.check_finite_weights`).
"""
import argparse
import hashlib
import io
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

import asda  # noqa: F401  (allow-lists the types mmengine checkpoints hold)
from asda.engine import UnreadableCheckpointError, check_finite_weights, read_checkpoint
from asda.utils.atomic import atomic_write

#: Top-level keys of an mmengine checkpoint that only resuming needs.
TRAINING_ONLY_KEYS = ('optimizer', 'param_schedulers', 'message_hub')


def publish(in_file: str, out_file: str) -> str:
    """Write the published checkpoint; return its final path.

    Args:
        in_file (str): A checkpoint saved by the training runner.
        out_file (str): Output name; ``-<sha256[:8]>`` goes before its
            extension (``.pth`` if it has none).

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


def _check_written(path: str, sha256: str) -> None:
    """Read the published file back: it must load whole and hash to
    ``sha256``, the digest of the bytes meant to be written."""
    read_checkpoint(path)
    with open(path, 'rb') as f:
        if hashlib.sha256(f.read()).hexdigest() != sha256:
            raise UnreadableCheckpointError(
                f'{path} does not hold the bytes written (sha256 differs)')


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description='Strip a checkpoint for release (weights + meta) and add '
        'the first 8 hex digits of its sha256 to the file name')
    parser.add_argument('in_file', help='checkpoint saved by training')
    parser.add_argument('out_file', help='output file name (hash appended)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    try:
        final = publish(args.in_file, args.out_file)
    except (FileNotFoundError, UnreadableCheckpointError, ValueError) as err:
        sys.exit(f'error: {err}')
    print(f'published {final}')
    return final


if __name__ == '__main__':
    main()
