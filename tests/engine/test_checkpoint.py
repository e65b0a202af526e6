"""Strict loading of full-model checkpoints (one loader for every tool) and
the partial mode for fine-tuning from another model."""
import os.path as osp

import pytest
import torch
from asda_test_utils import (
    DEMO_CONFIG,
    ROOT,
    corrupt_weights,
    cut_short,
    load_tool,
    save_random_checkpoint,
    write_config,
)
from torch import nn

from asda.engine import (
    ASDARunner,
    CheckpointMismatchError,
    UnreadableCheckpointError,
    load_model_checkpoint,
)

ROW_A = osp.join(ROOT, 'configs', 'asda', 'ablations', 'synthetic',
                 'table2_a_baseline_tiny_synthetic.py')


class Small(nn.Module):

    def __init__(self, width=3):
        super().__init__()
        self.a = nn.Linear(2, width)
        self.b = nn.Linear(width, 1)


def test_strict_load_refuses_and_names_every_kind_of_mismatch():
    model = Small()
    state = Small(width=4).state_dict()  # a.* and b.weight: other shapes
    state['extra.weight'] = torch.zeros(1)
    del state['b.bias']
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_model_checkpoint(model, {'state_dict': state}, source='other.pth')
    msg = str(err.value)
    assert 'other.pth' in msg and 'do not match' in msg
    assert '1 missing keys, 1 unexpected keys, 3 shape mismatches' in msg
    assert 'b.bias' in msg and 'extra.weight' in msg
    assert 'a.weight (checkpoint [4, 2], model [3, 2])' in msg
    # nothing was loaded
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_strict_load_accepts_ddp_prefix_and_bare_state_dicts():
    src, dst = Small(), Small()
    wrapped = {'module.' + k: v for k, v in src.state_dict().items()}
    load_model_checkpoint(dst, {'state_dict': wrapped, 'meta': {}})
    for k, v in dst.state_dict().items():
        assert torch.equal(v, src.state_dict()[k])
    load_model_checkpoint(Small(), src.state_dict())  # weights only


def test_partial_load_loads_what_matches_and_lists_the_rest(monkeypatch):
    import asda.engine.checkpoint as module
    logged = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, *args, **kwargs: logged.append(msg))
    src, dst = Small(width=4), Small(width=4)
    state = dict(src.state_dict())
    state['b.weight'] = torch.zeros(1, 5)  # shape mismatch: skipped
    state['head.extra'] = torch.zeros(2)  # unexpected: skipped
    load_model_checkpoint(dst, state, strict=False, source='donor.pth')
    assert torch.equal(dst.a.weight, src.a.weight)
    assert not torch.equal(dst.b.weight, state['b.weight'][:, :4])
    text = '\n'.join(logged)
    assert 'partial load of donor.pth' in text
    assert 'b.weight' in text and 'head.extra' in text


@pytest.mark.parametrize('bad', ['missing', 'not_a_dict', 'empty'])
def test_unusable_files_are_named(tmp_path, bad):
    path = tmp_path / 'x.pth'
    if bad == 'not_a_dict':
        torch.save([1, 2, 3], path)
    elif bad == 'empty':
        torch.save({'state_dict': {}}, path)
    error = FileNotFoundError if bad == 'missing' else CheckpointMismatchError
    with pytest.raises(error, match='x.pth'):
        load_model_checkpoint(Small(), str(path))


def _damaged(path, damage):
    """Damage the checkpoint ``path`` in place; what the error should say."""
    if damage == 'corrupt':  # 16 weights become 3.4e38: the CRC fails
        return f'entry {corrupt_weights(path)} fails its CRC check'
    if damage == 'cut short':
        cut_short(path)
        return 'cut short'
    open(path, 'wb').close()
    return 'empty file'


@pytest.mark.parametrize('damage', ['corrupt', 'cut short', 'empty'])
def test_damaged_files_are_refused_naming_them(tmp_path, damage):
    path = tmp_path / 'x.pth'
    torch.save({'state_dict': Small(width=64).state_dict()}, path)
    problem = _damaged(path, damage)
    model = Small(width=64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UnreadableCheckpointError) as err:
        load_model_checkpoint(model, str(path))
    assert str(path) in str(err.value) and problem in str(err.value)
    for k, v in model.state_dict().items():  # nothing was loaded
        assert torch.equal(v, before[k])


@pytest.fixture(scope='module')
def wrong_checkpoints(tmp_path_factory):
    """Checkpoints of other models: a resnet18, a random dict, and Table 2
    row (a) (the baseline: another head), all in mmengine's layout."""
    import torchvision
    root = tmp_path_factory.mktemp('wrong_ckpts')
    paths = {}
    torch.manual_seed(0)
    paths['resnet18'] = root / 'resnet18.pth'
    torch.save({'state_dict': torchvision.models.resnet18().state_dict()},
               paths['resnet18'])
    paths['random'] = root / 'random.pth'
    torch.save({'state_dict': {'w': torch.randn(3, 3), 'b': torch.randn(3)}},
               paths['random'])
    paths['row_a'] = root / 'row_a.pth'
    save_random_checkpoint(paths['row_a'], ROW_A, seed=1)
    return {k: str(v) for k, v in paths.items()}


@pytest.mark.parametrize('kind', ['resnet18', 'random', 'row_a'])
def test_inferencer_refuses_another_models_checkpoint(wrong_checkpoints, kind):
    from asda.apis import RISInferencer
    with pytest.raises(CheckpointMismatchError, match='do not match') as err:
        RISInferencer(DEMO_CONFIG, wrong_checkpoints[kind])
    assert 'missing keys' in str(err.value)
    assert wrong_checkpoints[kind] in str(err.value)


def test_test_tool_fails_and_names_the_keys(small_dataset, tmp_path, wrong_checkpoints,
                                           capsys):
    """tools/test.py's main raises (so the command exits non-zero), naming
    the keys at fault, before any metric is printed."""
    cfg = write_config(tmp_path / 'cfg.py', small_dataset)
    tool = load_tool('tools/test.py', 'asda_test_tool_checkpoint')
    with pytest.raises(CheckpointMismatchError, match='do not match') as err:
        tool.main([cfg, wrong_checkpoints['row_a'], '--work-dir', str(tmp_path / 'work')])
    assert 'decode_head.' in str(err.value)  # the keys at fault are named
    printed = capsys.readouterr()
    assert 'oIoU' not in printed.out + printed.err  # no metric table


def _runner_cfg(small_dataset, tmp_path, extra):
    from mmengine.config import Config

    from asda.engine import load_run_config
    path = write_config(tmp_path / 'cfg.py', small_dataset,
                        extra + f'\nexperiment_name = "load_{id(tmp_path)}"\n')
    cfg = load_run_config(path, work_dir=str(tmp_path / 'work'))
    assert isinstance(cfg, Config) and cfg.runner_type == 'ASDARunner'
    return cfg


def test_load_from_is_strict_and_load_partial_fine_tunes(small_dataset, tmp_path,
                                                          wrong_checkpoints):
    row_a = wrong_checkpoints['row_a']
    cfg = _runner_cfg(small_dataset, tmp_path, f'load_from = {row_a!r}')
    with pytest.raises(CheckpointMismatchError, match='do not match'):
        ASDARunner.from_cfg(cfg).load_or_resume()

    (tmp_path / 'partial').mkdir()
    cfg = _runner_cfg(small_dataset, tmp_path / 'partial',
                      f'load_from = {row_a!r}\nload_partial = True')
    runner = ASDARunner.from_cfg(cfg)
    runner.load_or_resume()
    donor = torch.load(row_a, map_location='cpu', weights_only=True)['state_dict']
    own = runner.model.state_dict()
    shared = [k for k in own if k in donor and donor[k].shape == own[k].shape]
    assert any(k.startswith('backbone.') for k in shared)
    for k in shared:
        assert torch.equal(own[k], donor[k]), k
    log = open(runner.logger.handlers[-1].baseFilename).read()
    assert f'partial load of {row_a}' in log
    skipped = [k for k in own if k not in donor]
    assert skipped and skipped[0] in log


def test_resume_with_nothing_to_resume_says_so(small_dataset, tmp_path):
    cfg = _runner_cfg(small_dataset, tmp_path, 'resume = True')
    runner = ASDARunner.from_cfg(cfg)
    runner.load_or_resume()
    log = open(runner.logger.handlers[-1].baseFilename).read()
    assert 'no checkpoint to resume from' in log
    assert 'training starts from scratch' in log
    assert 'checkpoint None' not in log


@pytest.mark.parametrize('damage', ['corrupt', 'cut short'])
def test_test_tool_refuses_a_damaged_checkpoint_before_any_work(
        small_dataset, tmp_path, monkeypatch, damage):
    """tools/test.py stops before the dataset is built (the runner checks
    its ``load_from`` when it is made)."""
    from mmengine.registry import DATASETS  # the one the runner builds with
    cfg = write_config(tmp_path / 'cfg.py', small_dataset)
    ckpt = tmp_path / 'model.pth'
    save_random_checkpoint(ckpt, cfg, seed=0)
    problem = _damaged(ckpt, damage)

    def no_dataset(*args, **kwargs):
        raise AssertionError('the dataset was built before the checkpoint '
                             'was checked')

    monkeypatch.setattr(DATASETS, 'build', no_dataset)
    tool = load_tool('tools/test.py', 'asda_test_tool_damaged')
    with pytest.raises(UnreadableCheckpointError) as err:
        tool.main([cfg, str(ckpt), '--work-dir', str(tmp_path / 'work'),
                   '--cfg-options', f'experiment_name=damaged_{id(tmp_path)}'])
    assert str(ckpt) in str(err.value) and problem in str(err.value)
