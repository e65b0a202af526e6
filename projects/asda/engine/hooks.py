"""``SafeCheckpointHook``: checkpoints that survive a kill at any moment.

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
"""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

from ..utils.atomic import atomic_output, atomic_write

__all__ = ['SafeCheckpointHook']


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
