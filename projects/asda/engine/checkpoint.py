"""The one owner of reading a checkpoint file, of loading a full-model
checkpoint, and of finding the checkpoint to resume from.

Every checkpoint file is read by :func:`read_checkpoint`: a local file is
first checked whole (:func:`verify_checkpoint`: not empty, not cut short, and
every entry of its zip archive passes its CRC check, which ``torch.load``
skips, so damaged weights are refused instead of used), and any failure to
load it is an :class:`UnreadableCheckpointError` naming the file.

Every tool that puts a checkpoint into a whole model (``tools/test.py``,
``--resume``, ``load_from``, :class:`asda.apis.RISInferencer`, the demos and
the deployment / analysis tools) calls :func:`load_model_checkpoint`. It is
strict: a checkpoint of another model (missing or unexpected keys, or tensors
of another shape) is refused with the counts and the first few names, instead
of being half-loaded. Fine-tuning from another model's weights on purpose
(e.g. a gRefCOCO model started from a RefCOCO one) is the documented partial
mode (``strict=False``; ``load_partial = True`` in a config), which loads what
matches and lists what it skipped. Initialising the CLIP backbone from
pretrained CLIP weights is a different path (the backbone's ``init_weights``)
and is partial by design.

Weights that are not finite (NaN or inf, what a diverged run leaves) are
refused by :func:`check_finite_weights`, naming a tensor: every load through
:func:`load_model_checkpoint`, ``tools/misc/publish_model.py`` and every
checkpoint training saves (:class:`asda.engine.DivergenceHook`) ask it.
"""
import glob
import os
import os.path as osp
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from mmengine.logging import print_log

__all__ = [
    'CheckpointMismatchError', 'UnreadableCheckpointError', 'KeyReport',
    'NonFiniteWeightsError', 'check_finite_weights', 'compare_state_dict',
    'load_model_checkpoint', 'non_finite_problem', 'non_finite_tensors',
    'read_checkpoint',
    'verify_checkpoint', 'checkpoint_problem', 'find_resumable_checkpoint'
]

_SHOWN = 5  # names listed per kind of mismatch


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's weights are not those of the model built from the
    config."""


class UnreadableCheckpointError(RuntimeError):
    """The checkpoint file is empty, cut short, corrupt or not a checkpoint."""


class NonFiniteWeightsError(ValueError):
    """Weights hold NaN or inf values (a diverged run's)."""


def non_finite_tensors(state_dict: Dict[str, Any]) -> List[Tuple[str, int, int]]:
    """The floating-point tensors of ``state_dict`` that hold NaN or inf
    values, in its order: ``(name, NaN count, inf count)`` (none when it
    is no dict)."""
    found = []
    if not isinstance(state_dict, dict):
        return found
    for name, value in state_dict.items():
        if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
            continue
        finite = torch.isfinite(value)
        if bool(finite.all()):
            continue
        nan = int(torch.isnan(value).sum())
        found.append((name, nan, int((~finite).sum()) - nan))
    return found


def non_finite_problem(state_dict: Dict[str, Any], source: str) -> Optional[str]:
    """What is not finite in ``state_dict`` (naming the first tensor at
    fault, its NaN and inf counts, and how many tensors are at fault), or
    None when every weight is finite. ``source`` names what holds them."""
    found = non_finite_tensors(state_dict)
    if not found:
        return None
    name, nan, inf = found[0]
    others = [n for n, _, _ in found[1:]]
    more = ''
    if others:
        listed = ', '.join(others[:_SHOWN]) + (', ...' if len(others) > _SHOWN else '')
        more = (f', and {len(others)} more of its {len(state_dict)} tensors are '
                f'not finite ({listed})')
    return (f'{source} holds non-finite weights: {name} has {nan} NaN and {inf} '
            f'inf values of {state_dict[name].numel()}{more}')


def check_finite_weights(state_dict: Dict[str, Any], source: str) -> None:
    """Refuse weights with a NaN or inf value: the one rule that a
    checkpoint's weights are finite (see the module).

    Args:
        state_dict (dict): Tensors by name (buffers included).
        source (str): What holds them (a file), named in the error.

    Raises:
        NonFiniteWeightsError: The message is :func:`non_finite_problem`'s.
    """
    problem = non_finite_problem(state_dict, source)
    if problem is not None:
        raise NonFiniteWeightsError(
            f'{problem}. They come from a run that diverged; use a checkpoint '
            'saved before its loss became NaN or inf.')


@dataclass
class KeyReport:
    """How a state dict differs from a model's.

    Attributes:
        missing (list[str]): Model keys the checkpoint lacks.
        unexpected (list[str]): Checkpoint keys the model lacks.
        mismatched (list[tuple]): ``(key, checkpoint shape, model shape)``.
        matched (int): Keys present in both with the same shape.
    """
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    matched: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def counts(self) -> str:
        return (f'{len(self.missing)} missing keys, {len(self.unexpected)} '
                f'unexpected keys, {len(self.mismatched)} shape mismatches')

    def details(self, limit: Optional[int] = _SHOWN) -> str:
        """The names, ``limit`` of each kind (None: all)."""

        def names(items):
            shown = items if limit is None else items[:limit]
            more = len(items) - len(shown)
            return ', '.join(shown) + (f', ... ({more} more)' if more else '')

        lines = []
        if self.missing:
            lines.append('missing: ' + names(self.missing))
        if self.unexpected:
            lines.append('unexpected: ' + names(self.unexpected))
        if self.mismatched:
            lines.append('shape mismatch: ' + names([
                f'{k} (checkpoint {list(a)}, model {list(b)})'
                for k, a, b in self.mismatched
            ]))
        return '; '.join(lines)


def compare_state_dict(model: torch.nn.Module,
                       state_dict: Dict[str, Any]) -> KeyReport:
    """Compare ``state_dict`` with ``model.state_dict()`` (names, shapes)."""
    own = model.state_dict()
    report = KeyReport()
    for key, value in own.items():
        if key not in state_dict:
            report.missing.append(key)
            continue
        theirs = state_dict[key]
        shape = tuple(getattr(theirs, 'shape', ()))
        if shape != tuple(value.shape):
            report.mismatched.append((key, shape, tuple(value.shape)))
        else:
            report.matched += 1
    report.unexpected = [k for k in state_dict if k not in own]
    return report


def _state_dict_of(checkpoint: Any, source: str) -> Dict[str, Any]:
    """The weights of a loaded checkpoint, without DDP's ``module.``."""
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(
            f'{source} is not a model checkpoint (a {type(checkpoint).__name__}'
            f', not a dict of weights)')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointMismatchError(f'{source} holds no weights')
    return {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}


def load_model_checkpoint(model: torch.nn.Module,
                          checkpoint: Union[str, os.PathLike, dict],
                          map_location: Union[str, Callable] = 'cpu',
                          strict: bool = True,
                          source: Optional[str] = None) -> dict:
    """Load a full-model checkpoint into ``model``.

    Args:
        model (nn.Module): The model (not a DDP wrapper).
        checkpoint (str | dict): A path / URL (mmengine's loaders), or a
            checkpoint already loaded (``{'state_dict': ...}`` or the weights).
        map_location (str | callable): Where tensors are loaded.
        strict (bool): True (default): refuse any missing or unexpected key
            and any shape mismatch, loading nothing. False: the partial mode
            for fine-tuning from another model: load the tensors whose name
            and shape match, and log every key skipped.
        source (str, optional): Name used in messages (defaults to the path).

    Returns:
        dict: The loaded checkpoint (``meta``, ``optimizer``, ... as saved).

    Raises:
        CheckpointMismatchError: In strict mode, when the checkpoint does not
            match; in any mode, when it holds no weights.
        NonFiniteWeightsError: A weight holds NaN or inf
            (:func:`check_finite_weights`); nothing is loaded.
        FileNotFoundError: When a local path does not exist.
        UnreadableCheckpointError: When the file cannot be read
            (:func:`read_checkpoint`).
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        source = source or os.fspath(checkpoint)
        checkpoint = read_checkpoint(checkpoint, map_location=map_location)
    source = source or 'the checkpoint'
    state_dict = _state_dict_of(checkpoint, source)
    check_finite_weights(state_dict, source)
    report = compare_state_dict(model, state_dict)
    if strict and not report.ok:
        raise CheckpointMismatchError(
            f'{source} does not match the model: the config and the checkpoint '
            f'do not match ({report.counts()}; {report.matched} keys match). '
            f'{report.details()}. To start from another model\'s weights on '
            f'purpose, load it partially (load_partial = True in the config).')
    if not report.ok:
        skipped = {k for k, _, _ in report.mismatched} | set(report.unexpected)
        state_dict = {k: v for k, v in state_dict.items() if k not in skipped}
        print_log(
            f'partial load of {source}: {report.matched} tensors loaded, '
            f'skipped {report.counts()}: {report.details(limit=None)}',
            logger='current', level=30)
    model.load_state_dict(state_dict, strict=report.ok)
    return checkpoint if isinstance(checkpoint, dict) else {}


_ZIP_MAGIC = b'PK\x03\x04'  # torch.save's archive format (torch >= 1.6)


def _file_problem(path: str) -> Optional[str]:
    """What is wrong with the file ``path`` itself, found without unpickling
    it, or None: missing, empty, a zip archive cut short, or an archive
    entry whose CRC fails (damaged bytes, e.g. inside a weight tensor, which
    ``torch.load`` does not check)."""
    if not osp.isfile(path):
        return 'file not found'
    if osp.getsize(path) == 0:
        return 'empty file'
    if not zipfile.is_zipfile(path):
        with open(path, 'rb') as f:
            if f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC:
                return 'cut short (a zip archive without its end records)'
        return None  # legacy serialisation: only loading it tells
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f'unreadable ({err})'
    return None if bad is None else f'entry {bad} fails its CRC check (corrupt)'


def verify_checkpoint(filename: Union[str, os.PathLike]) -> None:
    """Refuse a local checkpoint file that is missing, empty, cut short or
    corrupt (an archive entry failing its CRC check); a URL is left to its
    loader.

    Cheap next to a run (it reads the file once), so tools call it before
    any long work: :class:`asda.engine.ASDARunner` does for ``load_from``.

    Raises:
        FileNotFoundError: The file does not exist.
        UnreadableCheckpointError: Empty, cut short or corrupt; the message
            names the file and what is wrong.
    """
    path = os.fspath(filename)
    if '://' in path:
        return
    problem = _file_problem(osp.expanduser(path))
    if problem == 'file not found':
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if problem is not None:
        raise UnreadableCheckpointError(
            f'checkpoint {path} cannot be used: {problem}')


def read_checkpoint(filename: Union[str, os.PathLike],
                    map_location: Union[str, Callable, None] = 'cpu') -> Any:
    """The one reader of checkpoint files: :func:`verify_checkpoint`, then
    mmengine's loaders (a path, or a URL / ``torchvision://`` ...), any
    failure of which is raised as an error naming the file.

    Raises:
        FileNotFoundError: A local file does not exist.
        UnreadableCheckpointError: The file is empty, cut short, corrupt or
            not loadable (e.g. a pickle that ``weights_only`` refuses).
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    path = os.fspath(filename)
    verify_checkpoint(path)
    try:
        return _load_checkpoint(path, map_location=map_location)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 (every failure names the file)
        raise UnreadableCheckpointError(
            f'checkpoint {path} cannot be read: {type(err).__name__}: '
            f'{err}') from err


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or None if it reads back whole.

    A torch zip checkpoint is checked entry by entry (CRC), which finds a file
    cut short by a crash without unpickling it; a legacy one is loaded.
    """
    problem = _file_problem(path)
    if problem is not None or zipfile.is_zipfile(path):
        return problem
    try:
        torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 (any failure means unusable)
        return f'unreadable ({type(err).__name__}: {err})'
    return None


def _step_of(path: str) -> Tuple[int, float]:
    """Sort key of a checkpoint name: its epoch / iteration, then mtime."""
    match = re.search(r'(\d+)\.pth$', osp.basename(path))
    return (int(match.group(1)) if match else -1, osp.getmtime(path))


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from, or None.

    The one ``last_checkpoint`` records, when it reads back whole; otherwise
    (missing, cut short, deleted) the newest readable ``*.pth`` of
    ``work_dir`` (``best_*`` checkpoints hold no optimizer state and are left
    out), saying so. Every choice is logged.
    """
    recorded = None
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record, encoding='utf-8') as f:
            recorded = f.read().strip() or None
    if recorded is not None:
        problem = checkpoint_problem(recorded)
        if problem is None:
            return recorded
        print_log(f'the last checkpoint recorded in {record}, {recorded}, '
                  f'cannot be resumed from ({problem}); looking for the newest '
                  f'readable checkpoint in {work_dir}', logger='current',
                  level=30)
    candidates = [
        p for p in glob.glob(osp.join(work_dir, '*.pth'))
        if not osp.basename(p).startswith('best_')
    ]
    for path in sorted(candidates, key=_step_of, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            if recorded is not None or osp.isfile(record):
                print_log(f'resuming from {path} instead', logger='current',
                          level=30)
            return path
        print_log(f'skipping {path}: {problem}', logger='current', level=30)
    return None
