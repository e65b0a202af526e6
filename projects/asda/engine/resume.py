"""What :class:`asda.engine.ASDARunner` checks before it resumes, with the
checkpoint read but nothing of it loaded yet.

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
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.runner import IterBasedTrainLoop

__all__ = [
    'CannotResumeError', 'NothingLeftToTrainError', 'check_resume',
    'optimizer_overrides'
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
