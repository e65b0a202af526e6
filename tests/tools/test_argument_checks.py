"""Bad argument values stop the tools at parse time, before any work: the
message names the option and the value, the exit status is not 0, and no
model is built (the builder is replaced by one that fails the test) and no
file is written. Output paths are checked too: not a directory, not under a
file."""
import os

import pytest
from asda_test_utils import DEMO_CONFIG, load_tool, write_config


def _no_work(*args, **kwargs):
    raise AssertionError('the tool started work before checking its '
                         'arguments')


class _NoRunners:
    build = staticmethod(_no_work)


def _exit_message(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code not in (0, None)
    return capsys.readouterr().err


@pytest.mark.parametrize('name, problem', [
    ('out', 'no extension'), ('out.xyz', "the unknown extension '.xyz'")])
def test_image_demo_out_file_needs_an_image_extension(name, problem, tmp_path,
                                                       monkeypatch, capsys):
    demo = load_tool('demo/image_demo.py', 'asda_image_demo_args')
    monkeypatch.setattr(demo, 'RISInferencer', _no_work)
    out = str(tmp_path / name)
    err = _exit_message(demo.main, ['img.jpg', 'the red circle', DEMO_CONFIG,
                                    'model.pth', '--out-file', out], capsys)
    assert '--out-file' in err and repr(out) in err and problem in err
    assert 'accepted: .png, .jpg' in err
    assert os.listdir(tmp_path) == []


def test_pytorch2onnx_shape_must_be_positive(tmp_path, monkeypatch, capsys):
    tool = load_tool('tools/deployment/pytorch2onnx.py',
                     'asda_pytorch2onnx_args')
    monkeypatch.setattr(tool, 'init_model', _no_work)
    out = tmp_path / 'model.onnx'
    err = _exit_message(tool.main, [DEMO_CONFIG, 'model.pth', '--out',
                                    str(out), '--shape', '0', '0'], capsys)
    assert '--shape' in err and 'must be >= 1, got 0' in err
    assert os.listdir(tmp_path) == []


def test_layer_selection_max_samples_must_be_positive(tmp_path, monkeypatch,
                                                      capsys):
    tool = load_tool('tools/analysis_tools/layer_selection.py',
                     'asda_layer_selection_args')
    monkeypatch.setattr(tool, 'RISInferencer', _no_work)
    err = _exit_message(tool.main, [DEMO_CONFIG, 'model.pth', '--out-dir',
                                    str(tmp_path / 'out'), '--max-samples',
                                    '0'], capsys)
    assert '--max-samples' in err and 'must be >= 1, got 0' in err
    assert os.listdir(tmp_path) == []


def _unusable_output(tmp_path, where):
    """An output path that cannot be written: an existing directory, or a
    path under a file; what the error says about it."""
    if where == 'directory':
        path = tmp_path / 'out.png'
        path.mkdir()
        return str(path), 'is a directory'
    (tmp_path / 'file').write_text('')
    return str(tmp_path / 'file' / 'out.png'), f'{tmp_path / "file"} is a file'


@pytest.mark.parametrize('where', ['directory', 'under a file'])
def test_test_tool_out_must_be_writable(where, tmp_path, monkeypatch, capsys):
    tool = load_tool('tools/test.py', 'asda_test_tool_args')
    monkeypatch.setattr(tool, 'RUNNERS', _NoRunners)
    out, problem = _unusable_output(tmp_path, where)
    before = sorted(os.listdir(tmp_path))
    err = _exit_message(tool.main, [DEMO_CONFIG, 'model.pth', '--out', out,
                                    '--work-dir', str(tmp_path / 'w')], capsys)
    assert '--out' in err and repr(out) in err and problem in err
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize('where', ['directory', 'under a file'])
def test_image_demo_out_file_must_be_writable(where, tmp_path, monkeypatch,
                                              capsys):
    demo = load_tool('demo/image_demo.py', 'asda_image_demo_args')
    monkeypatch.setattr(demo, 'RISInferencer', _no_work)
    out, problem = _unusable_output(tmp_path, where)
    err = _exit_message(demo.main, ['img.jpg', 'the red circle', DEMO_CONFIG,
                                    'model.pth', '--out-file', out], capsys)
    assert '--out-file' in err and repr(out) in err and problem in err


@pytest.mark.parametrize('tool_path, options', [
    ('tools/train.py', ['--work-dir', 'WORK']),
    ('tools/test.py', ['model.pth', '--work-dir', 'WORK']),
    ('tools/misc/print_config.py', []),
])
def test_syntax_error_in_a_base_config_names_that_file(tool_path, options,
                                                       tmp_path):
    base = tmp_path / 'base.py'
    base.write_text('model = dict(type="X")\nx = (\n')
    config = tmp_path / 'config.py'
    config.write_text(f'_base_ = [{str(base)!r}]\nlr = 0.1\n')
    work = str(tmp_path / 'w')
    tool = load_tool(tool_path, 'asda_syntax_error_tool')
    with pytest.raises(SyntaxError) as err:
        tool.main([str(config)] + [work if o == 'WORK' else o for o in options])
    assert err.value.filename == str(base) and err.value.lineno == 2
    assert f'syntax error in config file {base}' in str(err.value)
    assert not os.path.exists(work)


@pytest.mark.parametrize('split', [',', ' , ', ''])
def test_test_tool_split_must_name_a_split(split, small_dataset, tmp_path, monkeypatch,
                                           capsys):
    """``--split ','`` evaluated nothing and printed an empty table (exit 0)."""
    tool = load_tool('tools/test.py', 'asda_test_tool_split_args')
    monkeypatch.setattr(tool, 'RUNNERS', _NoRunners)
    cfg = write_config(tmp_path / 'cfg.py', small_dataset)
    err = _exit_message(tool.main, [cfg, 'model.pth', '--split', split,
                                    '--work-dir', str(tmp_path / 'w')], capsys)
    assert f'--split: {split!r} names no split' in err
    assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('option', ['train_cfg.max_epochs=0', 'train_cfg.max_epochs=-1'])
def test_train_tool_refuses_a_length_that_trains_nothing(option, small_dataset, tmp_path):
    """``train_cfg.max_epochs=0`` trained nothing and exited 0 with no
    message; the runner refuses it when it is made, before the model is
    built."""
    tool = load_tool('tools/train.py', 'asda_train_tool_length_args')
    cfg = write_config(tmp_path / 'cfg.py', small_dataset)
    value = option.split('=')[1]
    with pytest.raises(ValueError, match=f'train_cfg.max_epochs must be an integer >= 1, '
                       f'got {value}: the run would train nothing'):
        tool.main([cfg, '--work-dir', str(tmp_path / 'w'), '--cfg-options', option])
    assert os.listdir(tmp_path / 'w') == ['.asda_run.lock']  # no log, no config dump
