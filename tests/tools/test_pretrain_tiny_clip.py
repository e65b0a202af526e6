"""tools/pretrain_tiny_clip.py and tools/analysis_tools/shape_probe.py on the
demo's tiny CLIP at a small input size, a few steps."""
import json
import os.path as osp
import sys

import pytest
from asda_test_utils import Terminal, load_tool

from asda.synthetic.captions import TWIN_KINDS
from asda.synthetic.clip_pretrain import build_pretrain_clip, compare_runs
from asda.synthetic.refer import GENERATOR_VERSION

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def small_config(tmp_path_factory):
    path = tmp_path_factory.mktemp('cfg') / 'tiny64.py'
    base = osp.join(ROOT, 'configs/asda/_base_/models/asda_tiny-clip.py')
    path.write_text(f'_base_ = [{base!r}]\n'
                    'model = dict(backbone=dict(img_size=64))\n')
    return str(path)


@pytest.fixture(scope='module')
def pretrained(small_config, tmp_path_factory):
    tool = load_tool('tools/pretrain_tiny_clip.py', 'asda_pretrain_tiny_clip')
    out = str(tmp_path_factory.mktemp('pretrain') / 'clip.pt')
    provenance = tool.main([
        '--config', small_config, '--out', out, '--steps', '3',
        '--batch-size', '6', '--heldout', '6', '--probe-scenes', '12', '8',
        '--log-every', '1', '--device', 'cpu'])
    return out, provenance


def test_pretrain_writes_checkpoint_and_provenance(pretrained, capsys):
    out, provenance = pretrained
    assert osp.isfile(out) and not osp.exists(out + '.tmp-probe.pt')
    with open(osp.splitext(out)[0] + '.json') as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(provenance))
    assert saved['steps'] == 3 and saved['seed'] == 1000
    assert saved['generator_version'] == GENERATOR_VERSION
    assert saved['machine']['device'] == 'cpu' and saved['machine']['cpu']
    # paths relative to the checkout, or file names: no folder of this machine
    assert ' tools/pretrain_tiny_clip.py --config tiny64.py --out clip.pt' in saved['command']
    assert not any(word.startswith('/') for word in saved['command'].split())
    assert saved['args']['out'] == 'clip.pt' and saved['args']['config'] == 'tiny64.py'
    assert [r['step'] for r in saved['loss_history']] == [1, 2, 3]
    assert saved['steps_done'] == 3
    # the three terms by default, each figure in the provenance
    assert saved['loss_weights'] == dict(contrastive=1.0, dense=1.0, grounding=1.0)
    assert {'contrastive', 'dense', 'grounding', 'cosines'} <= set(saved['loss_history'][0])
    assert set(saved['dense_terms']) == {'dense', 'grounding'}
    assert all(t['layer'] == 6 and t['saved'] is False for t in saved['dense_terms'].values())
    assert set(saved['zero_shot']['grounding']) >= {'all'}
    for figures in (saved['zero_shot'], saved['zero_shot_untrained']):
        assert figures['chance_top1'] == pytest.approx(100 / 6)
        assert set(figures['shape_probe']) == {'2', '3', '4', '5', '6'}
        assert figures['shape_probe']['6']['group'] == 'top'
        assert set(figures['twin_cosines']) == set(TWIN_KINDS)


def test_checkpoint_is_a_plain_open_clip_state_dict(small_config, pretrained):
    """The dense term's projection trained beside the model is not saved:
    the checkpoint holds exactly the open_clip CLIP's keys."""
    import torch
    from mmengine.config import Config
    state = torch.load(pretrained[0], map_location='cpu', weights_only=True)
    model, _ = build_pretrain_clip(Config.fromfile(small_config).model.backbone)
    assert set(state) == set(model.state_dict())


def test_shape_probe_tool(small_config, pretrained, tmp_path, capsys, monkeypatch):
    terminal = Terminal()  # progress: the features, then one fit per layer
    monkeypatch.setattr(sys, 'stderr', terminal)
    probe = load_tool('tools/analysis_tools/shape_probe.py', 'asda_shape_probe')
    out = tmp_path / 'probe.json'
    result = probe.main([small_config, '--pretrained', pretrained[0],
                         '--train-scenes', '12', '--test-scenes', '8',
                         '--out', str(out)])
    assert list(result) == [2, 3, 4, 5, 6]
    assert [r['group'] for r in result.values()] == ['low', 'low', 'mid',
                                                     'mid', 'top']
    assert all(0 <= r['accuracy'] <= 100 for r in result.values())
    text = capsys.readouterr().out
    assert 'chance 20%' in text and '| 6 | top |' in text
    progress = terminal.getvalue()
    assert 'object features of 20 scenes\n' in progress
    assert 'fitting the probe at 5 layers\n' in progress and '5/5' in progress
    saved = json.loads(out.read_text())
    assert saved['pretrained'] == pretrained[0]
    assert saved['layers']['4']['accuracy'] == result[4]['accuracy']
    with pytest.raises(FileNotFoundError, match='--pretrained: no such file'):
        probe.main([small_config, '--pretrained', str(tmp_path / 'none.pt')])


def test_compare_with_a_reference_run(pretrained, tmp_path):
    """The reproduction check: a run matches its own figures, and a figure
    more than the tolerance away is reported."""
    _, provenance = pretrained
    rows = compare_runs(provenance, provenance, 2.0)
    assert rows and all(ok for *_, ok in rows)
    assert {name for name, *_ in rows} >= {'retrieval_top1', 'shape_probe_layer_6'}
    shifted = json.loads(json.dumps(provenance))
    shifted['zero_shot']['shape_probe']['4']['accuracy'] += 2.5
    bad = [name for name, *_, ok in compare_runs(provenance, shifted, 2.0) if not ok]
    assert bad == ['shape_probe_layer_4']
    fewer = json.loads(json.dumps(provenance))
    del fewer['zero_shot']['shape_probe']['4']
    with pytest.raises(ValueError, match='shape_probe_layer_4'):
        compare_runs(fewer, provenance, 2.0)


def _shifted_reference(provenance: dict, path, points: float) -> bytes:
    """Write ``provenance`` with every comparable figure moved by
    ``points`` to ``path`` (a reference no rerun matches); its bytes."""
    reference = json.loads(json.dumps(provenance))
    zero_shot = reference['zero_shot']
    for key in ('retrieval_top1', 'shape_negative_acc', 'position_negative_acc'):
        zero_shot[key] += points
    for layer in zero_shot['shape_probe'].values():
        layer['accuracy'] += points
    path.write_text(json.dumps(reference))
    return path.read_bytes()


SMALL_RUN = ['--steps', '2', '--batch-size', '6', '--heldout', '6',
             '--probe-scenes', '12', '8', '--device', 'cpu']


@pytest.mark.parametrize('spelling', ['same', 'dotted'])
def test_compare_refuses_an_out_that_overwrites_the_reference(
        small_config, pretrained, tmp_path, spelling):
    """``--out X/clip.pt`` writes its provenance to X/clip.json: compared
    with ``--compare X/clip.json`` the run would check itself. Refused
    before any training, the reference kept."""
    tool = load_tool('tools/pretrain_tiny_clip.py', 'asda_pretrain_tiny_clip')
    reference = tmp_path / 'clip.json'
    kept = _shifted_reference(pretrained[1], reference, 50.0)
    compare = str(reference) if spelling == 'same' else \
        osp.join(str(tmp_path), '.', 'clip.json')
    with pytest.raises(ValueError, match='is the --compare reference'):
        tool.main(['--config', small_config, '--out', str(tmp_path / 'clip.pt'),
                   '--compare', compare] + SMALL_RUN)
    assert reference.read_bytes() == kept
    assert not (tmp_path / 'clip.pt').exists()


def _no_zero_shot(reference):
    del reference['zero_shot']


def _text_figure(reference):
    reference['zero_shot']['retrieval_top1'] = '12.5'


def _unprobed_layer(reference):
    reference['zero_shot']['shape_probe']['9'] = dict(group='mid', accuracy=30.0)


@pytest.mark.parametrize('edit, error, match', [
    (None, FileNotFoundError, '--compare: no such file'),
    ('not json', ValueError, 'not a JSON file'),
    (_no_zero_shot, ValueError, "not a pretraining provenance file .*'zero_shot'"),
    (_text_figure, ValueError, "not numbers: {'retrieval_top1': '12.5'}"),
    (_unprobed_layer, ValueError, "will not measure: \\['shape_probe_layer_9'\\]"),
])
def test_compare_reference_is_checked_before_training(
        small_config, pretrained, tmp_path, monkeypatch, edit, error, match):
    """A missing or malformed reference is named before the model is even
    built (it was read only after training, minutes later)."""
    tool = load_tool('tools/pretrain_tiny_clip.py', 'asda_pretrain_tiny_clip')

    def build(*args, **kwargs):
        raise AssertionError('the model was built before the reference was checked')

    monkeypatch.setattr(tool, 'build_pretrain_clip', build)
    reference = tmp_path / 'reference.json'
    if edit == 'not json':
        reference.write_text('{"zero_shot": ')
    elif edit is not None:
        provenance = json.loads(json.dumps(pretrained[1]))
        edit(provenance)
        reference.write_text(json.dumps(provenance))
    with pytest.raises(error, match=match) as err:
        tool.main(['--config', small_config, '--out', str(tmp_path / 'run' / 'clip.pt'),
                   '--compare', str(reference)] + SMALL_RUN)
    assert str(reference) in str(err.value)
    assert not (tmp_path / 'run').exists()


class _Built(Exception):
    """Raised where the tool builds its model: the test needs no more."""


def test_pretrain_sets_the_configs_heap_pad_before_building_the_model(
        small_config, tmp_path, monkeypatch, heap_pads):
    """The config's ``env_cfg.malloc_top_pad`` (asda.utils.malloc) is in force
    before the model and its training exist, as in tools/train.py."""
    tool = load_tool('tools/pretrain_tiny_clip.py', 'asda_pretrain_tiny_clip')
    pads_at_build = []

    def build(*args, **kwargs):
        pads_at_build.append(list(heap_pads))
        raise _Built

    monkeypatch.setattr(tool, 'build_pretrain_clip', build)
    config = tmp_path / 'padded.py'
    config.write_text(f'_base_ = [{small_config!r}]\nenv_cfg = dict(malloc_top_pad=1 << 20)\n')
    with pytest.raises(_Built):
        tool.main(['--config', str(config), '--out', str(tmp_path / 'clip.pt')] + SMALL_RUN)
    assert pads_at_build == [[1 << 20]] and heap_pads == [1 << 20]
