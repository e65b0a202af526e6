"""``SafeCheckpointHook``: checkpoints that survive a kill at any moment.
``DivergenceHook``: a run whose loss is no longer finite stops.

mmengine's ``CheckpointHook`` deletes the oldest checkpoint (and the previous
best) *before* writing the new one, and writes each ``.pth`` and the
``last_checkpoint`` record in place. A kill in between leaves
``last_checkpoint`` naming a deleted or half-written file; with
``max_keep_ckpts=1`` nothing is left to resume from. Here the order is:

1. write the new checkpoint to a hidden temporary file in the same folder,
   fsync it and rename it into place (:mod:`asda.utils.atomic`);
2. then record it in ``last_checkpoint``, the same way;
3. only then delete the checkpoints it replaces.

So at every moment at least one complete checkpoint exists, and
``last_checkpoint`` names a complete one. Leftover temporary files of a killed
run are removed when training starts again.

A run that diverges (NaN or inf loss) would otherwise go on to its last
epoch with NaN weights, save them over the good checkpoints and exit 0.
:class:`DivergenceHook`, which :class:`asda.engine.ASDARunner` registers for
every config, stops it at the first non-finite loss with
:class:`TrainingDivergedError` naming the iteration and the last checkpoint
(saved before it, so finite), and refuses to save non-finite weights
(:func:`asda.engine.checkpoint.non_finite_problem`). A mixed-precision
step that the loss scaler skipped (AMP backing off) is allowed: the weights
stay finite.
"""
import glob
import os
import os.path as osp

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from mmseg.registry import HOOKS

from ..utils.atomic import atomic_output, atomic_write
from .checkpoint import non_finite_problem, non_finite_tensors

__all__ = ['SafeCheckpointHook', 'DivergenceHook', 'TrainingDivergedError']


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or inf."""


def _loss_scalers(optim_wrapper) -> list:
    """The loss scalers (AMP's ``GradScaler``) of an optimizer wrapper or of
    each wrapper of an ``OptimWrapperDict``."""
    wrappers = optim_wrapper.values() if hasattr(optim_wrapper, 'values') \
        else [optim_wrapper]
    return [w.loss_scaler for w in wrappers
            if getattr(w, 'loss_scaler', None) is not None]


@HOOKS.register_module()
class DivergenceHook(Hook):
    """Stop training at the first non-finite loss; never save non-finite
    weights (see the module).

    After each training iteration every loss of the model's outputs
    (``loss`` and the ``loss*`` terms) must be finite, on every rank. One
    that is not stops the run with :class:`TrainingDivergedError`, before
    any checkpoint of that iteration is written, unless the optimizer
    wrapper has a loss scaler (AMP) and the weights are still finite: the
    scaler skipped that step. More than ``max_skipped_steps`` such steps in
    a row stop the run too (20 halvings divide the loss scale by about a
    million: the loss no longer comes back).

    :class:`asda.engine.ASDARunner` registers one (priority ``VERY_HIGH``:
    before the checkpoint, EMA and logger hooks) unless the config's
    ``custom_hooks`` has its own.

    Args:
        max_skipped_steps (int): Non-finite losses in a row that AMP's loss
            scaler may skip. Defaults to 20.
    """

    priority = 'VERY_HIGH'

    def __init__(self, max_skipped_steps: int = 20):
        if isinstance(max_skipped_steps, bool) or not isinstance(
                max_skipped_steps, int) or max_skipped_steps < 0:
            raise ValueError(f'DivergenceHook: max_skipped_steps must be an '
                             f'integer >= 0, got {max_skipped_steps!r}')
        self.max_skipped_steps = max_skipped_steps
        self.skipped_in_a_row = 0

    @staticmethod
    def _losses(outputs) -> dict:
        if not isinstance(outputs, dict):
            return {}
        return {k: v for k, v in outputs.items()
                if 'loss' in k and isinstance(v, torch.Tensor)}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        losses = self._losses(outputs)
        if not losses:
            return
        values = torch.stack([v.detach().float().mean() for v in losses.values()])
        local_bad = (~torch.isfinite(values)).any()
        bad = local_bad.float().reshape(1)
        if get_world_size() > 1:  # every rank stops at the same iteration
            all_reduce(bad)
        if not bool(bad.item()):
            self.skipped_in_a_row = 0
            return
        shown = ', '.join(f'{k}={v:g}' for k, v in zip(losses, values.tolist())) \
            if bool(local_bad) else 'on another rank'
        where = f'iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        model = getattr(runner.model, 'module', runner.model)
        if _loss_scalers(runner.optim_wrapper) and \
                not non_finite_tensors(model.state_dict()):
            self.skipped_in_a_row += 1
            if self.skipped_in_a_row <= self.max_skipped_steps:
                print_log(f'non-finite loss at {where} ({shown}): the AMP loss '
                          f'scaler skipped the step ({self.skipped_in_a_row} in '
                          f'a row, at most {self.max_skipped_steps})',
                          logger='current', level=30)
                return
            reason = (f'; the AMP loss scaler skipped {self.skipped_in_a_row} '
                      f'steps in a row (max_skipped_steps={self.max_skipped_steps})')
        else:
            reason = ''
        raise TrainingDivergedError(
            f'training diverged: the loss is not finite at {where}: {shown}'
            f'{reason}. Training stopped; {self._last_checkpoint(runner)}. Lower '
            'the learning rate (or clip the gradients) and train again.')

    @staticmethod
    def _last_checkpoint(runner) -> str:
        """The last complete checkpoint, as ``last_checkpoint`` records it
        (the checkpoint hook writes it once a checkpoint is whole)."""
        record = osp.join(runner.work_dir, 'last_checkpoint')
        last = None
        if osp.isfile(record):
            with open(record, encoding='utf-8') as f:
                last = f.read().strip()
        return (f'the last checkpoint, saved before it, is {last}' if last
                else 'no checkpoint was saved before it')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to save non-finite weights (they would replace finite
        ones)."""
        done = checkpoint.get('meta', {}).get('iter', runner.iter)
        problem = non_finite_problem(checkpoint.get('state_dict', {}),
                                     f'the model after iteration {done}')
        if problem is not None:
            raise TrainingDivergedError(
                f'training diverged: {problem}: not saved. Training stopped; '
                f'{self._last_checkpoint(runner)}.')


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), crash-safe (see the
    module)."""

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and self._local:
            for tmp in glob.glob(osp.join(self.out_dir, '.*.tmp-*')):
                os.unlink(tmp)

    @property
    def _local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # e.g. deepspeed checkpoints
            self.file_backend.rmtree(path)

    def _write(self, runner, filename: str, **kwargs) -> str:
        """``runner.save_checkpoint`` to a temporary name, then rename it to
        ``filename`` (local folders; other backends write directly)."""
        path = self.file_backend.join_path(self.out_dir, filename)
        if not self._local:
            runner.save_checkpoint(self.out_dir, filename, **kwargs)
            return path
        # save_checkpoint writes on rank 0 only: only rank 0 commits
        with atomic_output(path, commit=is_main_process()) as tmp:
            runner.save_checkpoint(self.out_dir, osp.basename(tmp), **kwargs)
        return path

    def _save_checkpoint_with_step(self, runner, step, meta):
        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._write(
            runner, filename,
            file_client_args=self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in stale:
            self._remove(self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old)))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """Save a new best checkpoint, then delete the one it replaces."""
        if not self.save_best:
            return
        if self.by_epoch:
            cur_type, cur_time = 'epoch', runner.epoch
        else:
            cur_type, cur_time = 'iter', runner.iter
        ckpt_filename = self.filename_tmpl.format(cur_time)
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])

        single = len(self.key_indicators) == 1
        updated = False
        for key_indicator, rule in zip(self.key_indicators, self.rules):
            suffix = '' if single else f'_{key_indicator}'
            previous = self.best_ckpt_path if single else \
                self.best_ckpt_path_dict[key_indicator]
            best = runner.message_hub.get_info(f'best_score{suffix}',
                                               self.init_value_map[rule])
            score = metrics[key_indicator]
            if score is None or not self.is_better_than[key_indicator](score, best):
                continue
            updated = True
            runner.message_hub.update_info(f'best_score{suffix}', score)
            name = f'best_{key_indicator}_{ckpt_filename}'.replace('/', '_')
            path = self.file_backend.join_path(self.out_dir, name)
            if single:
                self.best_ckpt_path = path
            else:
                self.best_ckpt_path_dict[key_indicator] = path
            runner.message_hub.update_info(f'best_ckpt{suffix}', path)
            self._write(
                runner, name,
                file_client_args=self.file_client_args,
                save_optimizer=False,
                save_param_scheduler=False,
                meta=meta,
                by_epoch=False,
                backend_args=self.backend_args)
            if previous and previous != path and is_main_process():
                self._remove(previous)
                runner.logger.info(f'The previous best checkpoint {previous} '
                                   'is removed')
            runner.logger.info(
                f'The best checkpoint with {score:0.4f} {key_indicator} at '
                f'{cur_time} {cur_type} is saved to {name}.')
        # save the latest checkpoint again so that its message hub knows the
        # new best (as mmengine does)
        if updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, meta)
