"""Test-only hook: records how a training run ran, for tests that start the
tools in a child process.

Imported through ``custom_imports`` (``tests/tools`` is put on PYTHONPATH for
the child). Writes ``run_rank{R}.json`` into the work dir after training:
the optimizer wrapper's class, the process group's backend and size, the
device of the parameters, and for each training iteration the autocast state
of the backbone's forward, the dtype of a convolution's output in the head
and the loss.
"""
import json
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RecordRunHook(Hook):
    """See the module docstring."""

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.record = dict(
            optim_wrapper=type(runner.optim_wrapper).__name__,
            backend=dist.get_backend() if dist.is_initialized() else None,
            world_size=dist.get_world_size() if dist.is_initialized() else 1,
            device=str(next(model.parameters()).device),
            autocast=[], head_dtype=[], loss=[])

        def record_autocast(module, inputs, output):
            if module.training:
                kind = next(module.parameters()).device.type
                self.record['autocast'].append(
                    [kind, torch.is_autocast_enabled(kind),
                     str(torch.get_autocast_dtype(kind))])

        def record_dtype(module, inputs, output):
            if module.training:
                self.record['head_dtype'].append(str(output.dtype))

        model.backbone.register_forward_hook(record_autocast)
        # the head's forward is called directly by its loss(): hook a conv
        conv = next(m for m in model.decode_head.modules()
                    if isinstance(m, torch.nn.Conv2d))
        conv.register_forward_hook(record_dtype)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.record['loss'].append(float(outputs['loss']))

    def after_train(self, runner):
        path = osp.join(runner.work_dir, f'run_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(self.record, f)
