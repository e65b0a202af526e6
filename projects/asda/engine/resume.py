"""What :class:`asda.engine.ASDARunner` checks before it resumes, with the
checkpoint read but nothing of it loaded yet, and the random state it
restores.

* No training state (a weights-only checkpoint: published by
  ``tools/misc/publish_model.py``, or bare weights): refused, naming the
  file and what it lacks (mmengine would stop at ``KeyError:
  'message_hub'``); its weights can start a run as ``load_from``.
* Nothing left to train (the checkpoint's epoch / iteration has reached
  ``train_cfg.max_epochs`` / ``max_iters``): refused, since mmengine would
  run no step and end as if it had trained.
* Another optimizer type than the config's (e.g. AdamW state into SGD, which
  fails at the first step with ``KeyError: 'momentum'``): refused, naming
  both. The checkpoint's type is the one in the config mmengine saves in
  every checkpoint's ``meta``; a checkpoint without it is not checked.
* Hyper-parameters of the optimizer (``lr``, ``weight_decay``, ``betas``,
  ...) that differ between the config and the checkpoint: resuming takes the
  checkpoint's, silently in mmengine; here a warning lists each, with both
  values. The values compared are the base ones (``initial_lr`` where a
  parameter scheduler set it), so a schedule's progress is no difference.

**The random state** (:class:`RNGStateHook`): a resumed run draws the
random numbers the uninterrupted run would have drawn.

mmengine seeds the generators when a run starts and saves the seed in the
checkpoint; a resumed run is seeded again from that seed, so its data
augmentation, dropout and data order after the resume differ from the
uninterrupted run's. Here every checkpoint also holds the state of every
generator training draws from, and a resumed run restores them just before
its first training epoch starts:

* torch's CPU generator (dropout, ``torch.rand`` in transforms, the seed
  the ``DataLoader`` draws for its iterator and workers) and, when CUDA is
  available, every CUDA device's;
* numpy's global generator (mmcv / mmseg transforms, ``ReferringRandomFlip``,
  the expression a ref-mode sample draws);
* Python's ``random`` module;
* the ``generator`` of the train dataloader and of its sampler, when they
  have one (mmengine's ``DefaultSampler`` has none: its order is a function
  of the seed and the epoch).

Validation between epochs would draw from the same generators (the
dataloader's iterator seed), so a run that validates would move on from
another state than a run resumed from the checkpoint saved before that
validation: the generators' states are put back when each validation ends,
so validating does not change what training draws.

Bit for bit holds for epoch-based loops with ``num_workers=0`` or workers
that are not persistent (mmengine seeds each worker anew every epoch from
the run's seed). Persistent workers keep their own generators across epochs,
out of the checkpoint's reach; an iteration-based loop re-reads the batches
it skips on resume. Resuming such a run logs that its random draws will
differ.
"""
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop
from mmseg.registry import HOOKS

__all__ = [
    'CannotResumeError', 'NothingLeftToTrainError', 'RNGStateHook', 'capture_rng_states',
    'check_resume', 'optimizer_overrides', 'restore_rng_states'
]


class CannotResumeError(RuntimeError):
    """Resuming from this checkpoint with this config would train nothing
    or break the optimizer."""


class NothingLeftToTrainError(CannotResumeError):
    """The checkpoint has reached the end of the config's schedule (a tool
    that resumes on purpose, e.g. the demo, takes it as "finished")."""


def _check_steps_left(loop, meta: dict, filename: str) -> None:
    if isinstance(loop, IterBasedTrainLoop):
        unit, done, total = 'iteration', meta.get('iter'), loop.max_iters
        option = 'max_iters'
    else:
        unit, done, total = 'epoch', meta.get('epoch'), loop.max_epochs
        option = 'max_epochs'
    if done is not None and done >= total:
        raise NothingLeftToTrainError(
            f'resume: {filename} was saved at {unit} {done} and '
            f'train_cfg.{option} is {total}: nothing is left to train. To '
            f'train longer, raise it (--cfg-options train_cfg.{option}=N); '
            f'for a new run, use another work dir.')


def _check_training_state(checkpoint: dict, filename: str) -> None:
    """The training state mmengine's resume reads: ``meta`` with
    ``epoch`` and ``iter``, and ``message_hub``."""
    if not isinstance(checkpoint, dict):
        checkpoint = {}
    meta = checkpoint.get('meta')
    missing = ['meta.' + key for key in ('epoch', 'iter')
               if not isinstance(meta, dict) or key not in meta]
    missing += [key for key in ('message_hub',) if key not in checkpoint]
    if missing:
        raise CannotResumeError(
            f'resume: {filename} holds no training state (it lacks '
            f'{", ".join(missing)}): it is a weights-only checkpoint (e.g. one '
            f'tools/misc/publish_model.py wrote) and cannot be resumed. To train '
            f'from its weights, start a run with --cfg-options load_from={filename} '
            f'(no --resume).')


def _saved_optimizer_type(meta: dict) -> Optional[str]:
    """The optimizer type of the config saved in ``meta``, if any."""
    text = meta.get('cfg')
    if not isinstance(text, str):
        return None
    try:
        cfg = Config.fromstring(text, file_format='.py')
    except Exception:  # noqa: BLE001 (an unreadable saved config tells nothing)
        return None
    kind = ((cfg.get('optim_wrapper') or {}).get('optimizer') or {}).get('type')
    if kind is None:
        return None
    return (kind if isinstance(kind, str) else kind.__name__).rsplit('.', 1)[-1]


def _base(group: dict, key: str) -> Any:
    """A hyper-parameter's base value: the one a scheduler started from."""
    value = group.get(f'initial_{key}', group[key])
    return tuple(value) if isinstance(value, list) else value


def optimizer_overrides(config_groups: Sequence[dict],
                        saved_groups: Sequence[dict]) -> List[Tuple[str, Any, Any]]:
    """``(name, config value, checkpoint value)`` of every hyper-parameter
    whose base value differs, each difference once over the param groups."""
    found: Dict[Tuple[str, Any, Any], None] = {}
    for ours, theirs in zip(config_groups, saved_groups):
        for key in ours:
            if key == 'params' or key.startswith('initial_') or key not in theirs:
                continue
            mine, saved = _base(ours, key), _base(theirs, key)
            if mine != saved:
                found[(key, mine, saved)] = None
    return list(found)


def check_resume(runner, checkpoint: dict, filename: str,
                 resume_optimizer: bool = True) -> None:
    """Refuse or warn about resuming ``runner`` from ``checkpoint``.

    Args:
        runner (Runner): The runner, its train loop and optimizer built.
        checkpoint (dict): The checkpoint read from ``filename``.
        filename (str): Its path, for the messages.
        resume_optimizer (bool): Whether the optimizer state is resumed.

    Raises:
        CannotResumeError: No training state, nothing left to train, or
            another optimizer type.
    """
    _check_training_state(checkpoint, filename)
    meta = checkpoint.get('meta') or {}
    _check_steps_left(runner.train_loop, meta, filename)
    optimizer = getattr(runner.optim_wrapper, 'optimizer', None)
    saved = checkpoint.get('optimizer')
    if not resume_optimizer or optimizer is None or not isinstance(saved, dict) \
            or 'param_groups' not in saved:
        return
    ours, theirs = type(optimizer).__name__, _saved_optimizer_type(meta)
    if theirs is not None and theirs != ours:
        raise CannotResumeError(
            f'resume: {filename} holds the state of a {theirs} optimizer and '
            f'the config builds {ours}; one cannot continue the other. Resume '
            f'with optim_wrapper.optimizer.type={theirs!r}, or start from its '
            f'weights with load_from (no --resume).')
    overrides = optimizer_overrides(optimizer.param_groups, saved['param_groups'])
    if overrides:
        runner.logger.warning(
            f'resume: the optimizer state of {filename} overrides the config '
            f'(the checkpoint\'s values are used): ' + '; '.join(
                f'{key}: {mine!r} in the config, {saved!r} in the checkpoint'
                for key, mine, saved in overrides)
            + '. To train with the config\'s values, start from its weights '
            'with load_from instead.')


# ----------------------------------------------------------- random state
#: The checkpoint key the states are saved under.
CHECKPOINT_KEY = 'rng_states'


def _generators(runner) -> Dict[str, torch.Generator]:
    """The train dataloader's own generators (its ``generator`` and its
    sampler's), where it has them."""
    loader = getattr(getattr(runner, 'train_loop', None), 'dataloader', None)
    found = {}
    for name, owner in (('dataloader', loader),
                        ('sampler', getattr(loader, 'sampler', None))):
        generator = getattr(owner, 'generator', None)
        if isinstance(generator, torch.Generator):
            found[name] = generator
    return found


def capture_rng_states(runner=None) -> Dict[str, Any]:
    """The states of the global generators (torch CPU and CUDA, numpy,
    random) and of ``runner``'s train dataloader generators."""
    states = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(),
                  random=random.getstate())
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    if runner is not None:
        states['generators'] = {name: g.get_state()
                                for name, g in _generators(runner).items()}
    return states


def restore_rng_states(states: Dict[str, Any], runner=None) -> None:
    """Put back what :func:`capture_rng_states` returned. CUDA states are
    restored when the run has the same number of devices."""
    torch.set_rng_state(states['torch'])
    np.random.set_state(states['numpy'])
    random.setstate(states['random'])
    cuda = states.get('cuda')
    if cuda is not None and torch.cuda.is_available() and \
            len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    if runner is not None:
        own = _generators(runner)
        for name, state in (states.get('generators') or {}).items():
            if name in own:
                own[name].set_state(state)


def _not_exact_reason(runner) -> Optional[str]:
    """Why a resumed run of ``runner`` cannot draw as the uninterrupted one
    did (None: it can)."""
    loop = runner.train_loop
    if isinstance(loop, IterBasedTrainLoop):
        return 'an iteration-based loop re-reads the batches it skips'
    loader = getattr(loop, 'dataloader', None)
    if getattr(loader, 'persistent_workers', False) and \
            getattr(loader, 'num_workers', 0) > 0:
        return ('the train dataloader\'s persistent workers keep their random state '
                'across epochs, which no checkpoint holds (persistent_workers=False '
                'makes the resume exact)')
    return None


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save every random state in the checkpoints and restore it on resume
    (see the module). :class:`asda.engine.ASDARunner` registers it."""

    # before the checkpoint hook (VERY_LOW), which saves the best checkpoint
    # and the latest again when validation ends
    priority = 'NORMAL'

    def __init__(self) -> None:
        self._pending: Optional[Dict[str, Any]] = None
        self._before_val: Optional[Dict[str, Any]] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = capture_rng_states(runner)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """On resume, keep the states for the first training epoch (a
        checkpoint without them is resumed as mmengine does); ``load_from``
        starts a run of its own and restores nothing."""
        if getattr(runner, 'resuming', False):
            self._pending = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        if self._pending is None:
            return
        reason = _not_exact_reason(runner)
        if reason is not None:
            runner.logger.warning(f'resume: the random draws after the resume differ '
                                  f'from an uninterrupted run\'s: {reason}')

    def before_train_epoch(self, runner) -> None:
        if self._pending is not None:
            restore_rng_states(self._pending, runner)
            self._pending = None

    def before_val(self, runner) -> None:
        self._before_val = capture_rng_states(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._before_val is not None:
            restore_rng_states(self._before_val, runner)
            self._before_val = None
