"""tools/misc/publish_model.py and tools/misc/print_config.py."""
import hashlib
import os.path as osp
import re

import pytest
import torch
from asda_test_utils import corrupt_weights, cut_short, load_tool, write_config

from asda.apis import init_model
from asda.engine import CheckpointMismatchError, load_model_checkpoint


@pytest.fixture(scope='module')
def trained_checkpoint(tool_dataset, tmp_path_factory):
    """A real training checkpoint (1 iteration of tools/train.py)."""
    work = tmp_path_factory.mktemp('publish')
    cfg = write_config(
        work / 'cfg.py', tool_dataset,
        'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=1, '
        'val_interval=100)\n'
        'param_scheduler = None\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1))\n'
        'log_processor = dict(by_epoch=False)\n'
        'experiment_name = "publish_model"\n')
    train = load_tool('tools/train.py', 'asda_train_tool_publish')
    train.main([cfg, '--work-dir', str(work / 'run')])
    return cfg, str(work / 'run' / 'iter_1.pth')


def test_publish_model_strips_training_state_and_loads_strictly(
        trained_checkpoint, tmp_path, capsys):
    cfg, ckpt = trained_checkpoint
    source = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert {'optimizer', 'message_hub', 'state_dict', 'meta'} <= set(source)

    tool = load_tool('tools/misc/publish_model.py', 'asda_publish_model')
    final = tool.main([ckpt, str(tmp_path / 'asda_tiny.pth')])
    assert 'published' in capsys.readouterr().out
    name = osp.basename(final)
    match = re.fullmatch(r'asda_tiny-([0-9a-f]{8})\.pth', name)
    assert match, name
    with open(final, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == match.group(1)
    # no temporary file left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]

    published = torch.load(final, map_location='cpu', weights_only=True)
    assert set(published) == set(source) - {'optimizer', 'message_hub',
                                            'param_schedulers'}
    assert published['meta'] == source['meta']
    assert 'cfg' in published['meta']  # the config travels with the weights

    model = init_model(cfg)
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    load_model_checkpoint(model, final)  # strict: the project's one loader
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, source['state_dict'][key])


def test_publish_model_fp16_with_provenance(trained_checkpoint, tmp_path):
    """--fp16 halves the weights, which load into the float32 model;
    --provenance writes OUT.json beside it: the results, the config and the
    published file's name, sha256, size and dtype, with no machine path in
    it or in the checkpoint's meta."""
    import json
    cfg, ckpt = trained_checkpoint
    results = tmp_path / 'metrics.json'
    results.write_text(json.dumps(dict(
        metrics=dict(val=dict(oIoU=71.5)), checkpoint='/some/machine/epoch_12.pth')))
    tool = load_tool('tools/misc/publish_model.py', 'asda_publish_model')
    out = tmp_path / 'ship' / 'demo.pth'
    final = tool.main([ckpt, str(out), '--fp16', '--provenance', str(results),
                       '--config', cfg])
    record = json.loads((tmp_path / 'ship' / 'demo.json').read_text())
    data = open(final, 'rb').read()
    assert record['checkpoint'] == dict(
        file=osp.basename(final), sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data), dtype=['float16'])
    assert record['metrics'] == dict(val=dict(oIoU=71.5))
    assert record['config'] == 'cfg.py'  # outside the repository: its name
    published = torch.load(final, map_location='cpu', weights_only=True)
    assert all(v.dtype == torch.float16 for v in published['state_dict'].values()
               if v.is_floating_point())
    assert str(tmp_path) not in published['meta']['cfg']
    full = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    model = init_model(cfg)
    load_model_checkpoint(model, final)
    for key, value in model.state_dict().items():
        assert value.dtype == full[key].dtype
        if value.is_floating_point():  # float16's rounding: 2^-11 of the value
            torch.testing.assert_close(value, full[key], rtol=2 ** -10, atol=1e-7)
    with pytest.raises(SystemExit):
        tool.parse_args([ckpt, str(out), '--provenance', str(results)])


def test_publish_model_refuses_a_file_without_weights(tmp_path):
    bad = tmp_path / 'bad.pth'
    torch.save({'meta': {}}, bad)
    tool = load_tool('tools/misc/publish_model.py', 'asda_publish_model')
    with pytest.raises(SystemExit, match='no "state_dict"'):
        tool.main([str(bad), str(tmp_path / 'out.pth')])
    with pytest.raises(SystemExit, match='not found'):
        tool.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'out.pth')])


@pytest.mark.parametrize('damage', ['corrupt', 'cut short', 'empty'])
def test_publish_model_refuses_a_damaged_checkpoint(trained_checkpoint,
                                                     tmp_path, damage):
    """Damaged weights are not published under a fresh sha256."""
    ckpt = tmp_path / 'iter_1.pth'
    ckpt.write_bytes(open(trained_checkpoint[1], 'rb').read())
    if damage == 'corrupt':
        problem = f'entry {corrupt_weights(ckpt)} fails its CRC check'
    elif damage == 'cut short':
        cut_short(ckpt)
        problem = 'cut short'
    else:
        ckpt.write_bytes(b'')
        problem = 'empty file'
    tool = load_tool('tools/misc/publish_model.py', 'asda_publish_model')
    with pytest.raises(SystemExit) as exit_:
        tool.main([str(ckpt), str(tmp_path / 'out.pth')])
    assert str(ckpt) in str(exit_.value.code) and problem in str(exit_.value.code)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['iter_1.pth']


def test_publish_model_checks_what_it_wrote(trained_checkpoint, tmp_path,
                                            monkeypatch):
    """The output is read back (CRC, load, sha256): a write that stored
    other bytes than the ones hashed is refused and removed."""
    tool = load_tool('tools/misc/publish_model.py', 'asda_publish_model')
    write = tool.atomic_write

    def damaging_write(path, data):
        write(path, data)
        corrupt_weights(path)

    monkeypatch.setattr(tool, 'atomic_write', damaging_write)
    with pytest.raises(SystemExit) as exit_:
        tool.main([trained_checkpoint[1], str(tmp_path / 'out.pth')])
    message = str(exit_.value.code)
    assert 'out-' in message and 'fails its CRC check' in message
    assert list(tmp_path.iterdir()) == []


def test_published_checkpoint_of_another_model_is_refused(trained_checkpoint,
                                                          tmp_path):
    cfg, ckpt = trained_checkpoint
    tool = load_tool('tools/misc/publish_model.py', 'asda_publish_model')
    final = tool.publish(ckpt, str(tmp_path / 'x.pth'))
    other = write_config(tmp_path / 'other.py', osp.dirname(cfg),
                         'model = dict(decode_head=dict(num_masks=16))\n')
    with pytest.raises(CheckpointMismatchError):
        load_model_checkpoint(init_model(other), final)


def test_print_config_merges_bases_and_options(tool_dataset, tmp_path, capsys):
    cfg = write_config(tmp_path / 'cfg.py', tool_dataset)
    tool = load_tool('tools/misc/print_config.py', 'asda_print_config')
    merged = tool.main([cfg, '--cfg-options', 'model.decode_head.num_masks=8',
                        'train_dataloader.batch_size=3'])
    out = capsys.readouterr().out
    assert merged.model.decode_head.num_masks == 8
    assert "type='WGDAHead'" in out and 'num_masks=8' in out
    assert 'batch_size=3' in out
    assert "type='CLIPBackbone'" in out  # from the model base
