"""``RNGStateHook``: a resumed run draws the random numbers the
uninterrupted run would have drawn.

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
from typing import Any, Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop
from mmseg.registry import HOOKS

__all__ = ['RNGStateHook', 'capture_rng_states', 'restore_rng_states']

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
