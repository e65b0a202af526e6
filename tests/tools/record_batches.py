"""Test-only hook: records which samples each rank trains on, per iteration.

Imported through ``custom_imports`` by the configs of the distributed test
(``tests/tools`` is put on PYTHONPATH for the spawned processes).
"""
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RecordBatchesHook(Hook):
    """Writes ``batch_rank{R}_iter{I}.json``: the (ref_id, sent_id) pairs,
    and on rank 0 the weights before training (``init_state.pth``)."""

    def before_train(self, runner):
        if get_rank() == 0:
            model = runner.model.module if is_model_wrapper(
                runner.model) else runner.model
            torch.save(model.state_dict(),
                       osp.join(runner.work_dir, 'init_state.pth'))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        ids = [[int(s.metainfo['ref_id']), int(s.metainfo['sent_id'])]
               for s in data_batch['data_samples']]
        name = f'batch_rank{get_rank()}_iter{runner.iter}.json'
        with open(osp.join(runner.work_dir, name), 'w') as f:
            json.dump(ids, f)
