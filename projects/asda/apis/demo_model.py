"""The trained demo model that ships with a checkout of the repository.

``make demo``'s recipe (``configs/asda/asda_tiny_synthetic.py``: stage one's
tiny CLIP, then ASDA trained on the synthetic referring dataset) is committed
as ``checkpoints/asda_tiny_synthetic-<sha256[:8]>.pth`` (fp16 weights), with
its provenance ``checkpoints/asda_tiny_synthetic.json``: the file's name and
sha256, the command and machine that made it, and its figures. The demos and
:class:`asda.apis.RISInferencer` use it when they are given no config and no
checkpoint, so a new user sees a working model one command after set-up. It
knows the synthetic world only (coloured shapes on pale backgrounds).
"""
import argparse
import json
import os.path as osp
from typing import Tuple

__all__ = ['REPO_ROOT', 'DEMO_CONFIG', 'DEMO_PROVENANCE', 'demo_model', 'parse_model_args']

#: The checkout this package lies in (``projects/asda`` -> the root).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'asda', 'asda_tiny_synthetic.py')
DEMO_PROVENANCE = osp.join(REPO_ROOT, 'checkpoints', 'asda_tiny_synthetic.json')


def demo_model(provenance: str = DEMO_PROVENANCE) -> Tuple[str, str]:
    """The committed demo model's config and checkpoint.

    Args:
        provenance (str): The model's provenance file; the checkpoint is
            the file it names, in its folder.

    Returns:
        tuple[str, str]: config path, checkpoint path.

    Raises:
        FileNotFoundError: no provenance or checkpoint (an installation
            without the repository's ``configs/`` and ``checkpoints/``): pass
            a config and a checkpoint instead.
        ValueError: the provenance does not name a checkpoint.
    """
    hint = ('the demo model ships with a checkout of the repository '
            '(configs/ and checkpoints/); pass a config and a checkpoint instead')
    if not osp.isfile(provenance):
        raise FileNotFoundError(f'no demo model provenance {provenance}: {hint}')
    with open(provenance, encoding='utf-8') as f:
        record = json.load(f)
    name = record.get('checkpoint', {}).get('file') if isinstance(
        record.get('checkpoint'), dict) else None
    if not isinstance(name, str) or osp.basename(name) != name:
        raise ValueError(f'{provenance}: checkpoint.file must name a file beside '
                         f'it, got {name!r}')
    checkpoint = osp.join(osp.dirname(provenance), name)
    config = osp.join(REPO_ROOT, record.get('config', ''))
    for path in (checkpoint, config):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} (named by {provenance}) is missing: {hint}')
    return config, checkpoint


def parse_model_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv`` with ``parser`` and check its CONFIG and CHECKPOINT
    (:func:`asda.utils.arg_types.add_model_args`): both, or neither for the
    committed demo model, whose files (:func:`demo_model`) the returned
    arguments then hold.

    One of them alone, or no demo model in this installation, stops the tool
    with ``parser.error`` (status 2), before any model is built.
    """
    args = parser.parse_args(argv)
    if (args.config is None) != (args.checkpoint is None):
        parser.error('give both CONFIG and CHECKPOINT, or neither (the demo model)')
    if args.config is None:
        try:
            args.config, args.checkpoint = demo_model()
        except (FileNotFoundError, ValueError) as err:
            parser.error(str(err))
    return args
