"""ASDARunner: each runner of a process has its own name, log and hub; a
training length that trains nothing is refused."""
import os
import time

import pytest
import torch.nn as nn
from asda_test_utils import linear_toy_training
from mmengine.config import Config
from mmengine.model import BaseModel

from asda.engine import ASDARunner


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.fc(inputs)


def _runner(work_dir):
    # no experiment_name: mmengine names a run after its config and the
    # second it starts, so two runners made at once would share the name
    return ASDARunner(model=_Toy(), work_dir=str(work_dir), default_scope='mmengine',
                      cfg=Config(dict()))


def test_runners_made_at_once_keep_their_own_log_and_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(time, 'time', lambda: 1.8e9)  # both in one second
    first, second = _runner(tmp_path / 'a'), _runner(tmp_path / 'b')
    assert first.experiment_name != second.experiment_name
    assert first.logger is not second.logger
    assert first.message_hub is not second.message_hub
    second.logger.info('a line of the second run')
    logs = [r.logger.handlers[-1].baseFilename for r in (first, second)]
    assert logs[0].startswith(str(tmp_path / 'a')) and logs[1].startswith(str(tmp_path / 'b'))
    with open(logs[0]) as f:
        assert 'a line of the second run' not in f.read()


@pytest.mark.parametrize('train_cfg, key', [
    (dict(by_epoch=True, max_epochs=0), 'max_epochs'),
    (dict(type='EpochBasedTrainLoop', max_epochs=-1), 'max_epochs'),
    (dict(by_epoch=False, max_iters=0), 'max_iters'),
    (dict(by_epoch=True, max_epochs=1.5), 'max_epochs'),
])
def test_a_training_length_that_trains_nothing_is_refused(train_cfg, key, tmp_path):
    """mmengine trains such a run for no step and ends as if it had
    trained."""
    with pytest.raises(ValueError, match=f'train_cfg.{key} must be an integer >= 1, '
                       f'got {train_cfg[key]!r}'):
        ASDARunner(**linear_toy_training(), work_dir=str(tmp_path), train_cfg=train_cfg,
                   optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                   default_scope='mmengine', cfg=Config(dict()))
    assert not tmp_path.exists() or os.listdir(tmp_path) == []  # nothing written
