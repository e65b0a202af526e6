"""Bad argument values stop the tools at parse time, before any work: the
message names the option and the value, the exit status is not 0, and no
model is built (the builder is replaced by one that fails the test) and no
file is written. Output paths are checked too: not a directory, not under a
file."""
import os

import numpy as np
import pytest
from asda_test_utils import DEMO_CONFIG, load_tool, write_config, write_png_bomb


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


# ------------------------------------------ output paths and sizes checked first
def test_pytorch2onnx_out_must_be_writable(tmp_path, monkeypatch, capsys):
    tool = load_tool('tools/deployment/pytorch2onnx.py', 'asda_pytorch2onnx_out')
    monkeypatch.setattr(tool, 'init_model', _no_work)
    out = tmp_path / 'model.onnx'
    out.mkdir()
    err = _exit_message(tool.main, [DEMO_CONFIG, 'model.pth', '--out', str(out)], capsys)
    assert '--out' in err and repr(str(out)) in err and 'is a directory' in err


def _pretrain_tool(monkeypatch):
    tool = load_tool('tools/pretrain_tiny_clip.py', 'asda_pretrain_args')
    monkeypatch.setattr(tool, 'build_pretrain_clip', _no_work)
    return tool


@pytest.mark.parametrize('which', ['checkpoint', 'provenance'])
def test_pretrain_tiny_clip_out_must_be_writable(which, tmp_path, monkeypatch,
                                                 capsys):
    """The checkpoint and its provenance file (``.json`` beside it) are
    written after training: a directory at either path is refused first."""
    tool = _pretrain_tool(monkeypatch)
    out = tmp_path / 'clip.pt'
    blocked = out if which == 'checkpoint' else tmp_path / 'clip.json'
    blocked.mkdir()
    err = _exit_message(tool.main, ['--config', DEMO_CONFIG, '--out', str(out),
                                    '--steps', '1'], capsys)
    assert '--out' in err and repr(str(blocked)) in err and 'is a directory' in err


def _stream_minimum() -> int:
    """The smallest batch size the caption stream takes."""
    from asda.synthetic.captions import CaptionStream
    for size in range(1, 64):
        try:
            CaptionStream(0, size)
        except ValueError:
            continue
        return size
    raise AssertionError('the caption stream takes no batch size below 64')


def test_pretrain_tiny_clip_batch_size_is_the_streams_minimum(tmp_path, monkeypatch,
                                                              capsys):
    tool = _pretrain_tool(monkeypatch)
    minimum = _stream_minimum()
    err = _exit_message(tool.main, ['--config', DEMO_CONFIG, '--out',
                                    str(tmp_path / 'clip.pt'), '--batch-size',
                                    str(minimum - 1)], capsys)
    assert '--batch-size' in err and f'must be >= {minimum}, got {minimum - 1}' in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('share', ['-0.1', '1.5', 'nan'])
def test_pretrain_tiny_clip_twin_share_is_a_share(share, tmp_path, monkeypatch, capsys):
    tool = _pretrain_tool(monkeypatch)
    err = _exit_message(tool.main, ['--config', DEMO_CONFIG, '--out',
                                    str(tmp_path / 'clip.pt'), '--twin-share', share],
                        capsys)
    assert '--twin-share' in err and 'must be in [0, 1]' in err and share in err


def test_test_tool_checks_every_per_split_out_before_evaluating(
        tool_dataset, tmp_path, monkeypatch, capsys):
    """--split all / a list writes one --out per split (``o.<split>.json``):
    each is checked before the first evaluation."""
    from asda_test_utils import write_config
    tool = load_tool('tools/test.py', 'asda_test_tool_split_out')
    monkeypatch.setattr(tool, 'RUNNERS', _NoRunners)
    cfg = write_config(tmp_path / 'cfg.py', tool_dataset)
    (tmp_path / 'o.testB.json').mkdir()
    for split in ('all', 'val,testB'):
        with pytest.raises(ValueError) as err:
            tool.main([cfg, 'model.pth', '--split', split, '--out',
                       str(tmp_path / 'o.json'), '--work-dir', str(tmp_path / 'w')])
        message = str(err.value)
        assert f'--out {tmp_path / "o.json"}' in message
        assert f"'{tmp_path / 'o.testB.json'}' is a directory" in message
    assert not (tmp_path / 'w').exists()


# ------------------------------------------------------------------ --cfg-options
@pytest.mark.parametrize('option, words', [
    ('train_cfg.max_epochs=abc', "'abc' is not a number (the config has "
                                 'train_cfg.max_epochs=12)'),
    ('optim_wrapper.optimizer.lr=fast', "'fast' is not a number (the config has "
                                        'optim_wrapper.optimizer.lr=0.001)'),
    ('max_epochs=abc', "'abc' is not a number (the config has max_epochs=12)"),
    ('resume=maybe', "'maybe' is not True or False (the config has resume=False)"),
    # a typo in a key's first part would add a setting nothing reads, and the
    # run would train with the config's value
    ('trian_cfg.max_epochs=1', 'neither the config nor a run has a top-level trian_cfg '
                               '(did you mean train_cfg?)'),
    ('optim_wraper.optimizer.lr=0.1', 'neither the config nor a run has a top-level '
                                      'optim_wraper (did you mean optim_wrapper?)'),
    ('qwertyuiop=1', 'neither the config nor a run has a top-level qwertyuiop'),
])
def test_cfg_options_that_cannot_apply_are_refused_naming_them(
        option, words, tmp_path, monkeypatch, train_tool):
    monkeypatch.setattr(train_tool, 'RUNNERS', _NoRunners)
    with pytest.raises(ValueError) as err:
        train_tool.main([DEMO_CONFIG, '--work-dir', str(tmp_path / 'w'),
                         '--cfg-options', option])
    assert str(err.value) == f'--cfg-options {option}: {words}'
    assert os.listdir(tmp_path) == []


def test_cfg_options_may_set_what_a_run_reads_beyond_the_config(train_tool):
    """Top-level keys the runner reads are accepted though the config has
    none (here load_from is in it, launcher and experiment_name are not)."""
    args = train_tool.parse_args([DEMO_CONFIG, '--cfg-options', 'experiment_name=x',
                                  'log_level=DEBUG', 'load_from=ckpt.pth'])
    cfg = train_tool.build_cfg(args)
    assert (cfg.experiment_name, cfg.log_level, cfg.load_from) == ('x', 'DEBUG', 'ckpt.pth')


@pytest.mark.parametrize('option, setting', [
    ('lr=0.01', 'optim_wrapper.optimizer.lr'),
    ('max_epochs=3', 'train_cfg.max_epochs'),
])
def test_cfg_options_that_change_nothing_name_the_setting(option, setting, train_tool):
    """A top-level name the settings use (a config's variable, or a short
    name for a nested key) changes none of them: a warning names the key to
    set."""
    args = train_tool.parse_args([DEMO_CONFIG, '--cfg-options', option])
    with pytest.warns(UserWarning) as record:
        cfg = train_tool.build_cfg(args)
    [message] = [str(w.message) for w in record if option in str(w.message)]
    assert f'--cfg-options {option} changes no setting' in message
    assert f'set {setting}' in message
    assert cfg.train_cfg.max_epochs == 12 and cfg.optim_wrapper.optimizer.lr == 0.001


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


def test_pretrain_out_must_not_be_its_own_provenance(tmp_path, capsys):
    """``--out x.json`` wrote the provenance over the checkpoint."""
    tool = load_tool('tools/pretrain_tiny_clip.py', 'asda_pretrain_args')
    out = str(tmp_path / 'x.json')
    with pytest.raises(SystemExit) as exit_:
        tool.parse_args(['--out', out])
    assert exit_.value.code not in (0, None)
    err = capsys.readouterr().err
    assert f'--out {out}: the provenance is written to {out}, the checkpoint itself' in err
    assert tool.parse_args(['--out', str(tmp_path / 'x.pt')]).out == str(tmp_path / 'x.pt')


def _photo(tmp_path, name='photo.png'):
    path = tmp_path / name
    path.write_bytes(b'the photo')
    return str(path)


@pytest.mark.parametrize('case', ['out-file', 'out-mask', 'out-prob', 'numbered',
                                  'through a link'])
def test_image_demo_never_overwrites_its_input(case, tmp_path, monkeypatch, capsys):
    demo = load_tool('demo/image_demo.py', 'asda_image_demo_args')
    monkeypatch.setattr(demo, 'RISInferencer', _no_work)
    photo = _photo(tmp_path, 'photo_1.png' if case == 'numbered' else 'photo.png')
    argv = [photo, 'the red circle', DEMO_CONFIG, 'model.pth',
            '--out-file', str(tmp_path / 'overlay.png')]
    if case == 'numbered':  # the second expression's overlay is photo_1.png
        argv += ['--out-file', str(tmp_path / 'photo.png'), '-e', 'the blue square']
        what = f'--out-file {tmp_path / "photo.png"} (for expression 2: {photo})'
    elif case == 'through a link':
        (tmp_path / 'link').symlink_to(tmp_path)
        argv += ['--out-mask', str(tmp_path / 'link' / 'photo.png')]
        what = f'--out-mask {tmp_path / "link" / "photo.png"}'
    else:
        argv += [f'--{case}', photo]
        what = f'--{case} {photo}'
    err = _exit_message(demo.main, argv, capsys)
    assert f'{what} would overwrite the input image {photo}' in err
    assert open(photo, 'rb').read() == b'the photo'


def test_image_demo_outputs_must_be_distinct_files(tmp_path, monkeypatch, capsys):
    demo = load_tool('demo/image_demo.py', 'asda_image_demo_args')
    monkeypatch.setattr(demo, 'RISInferencer', _no_work)
    out, mask = str(tmp_path / 'o.png'), str(tmp_path / 'o_1.png')
    err = _exit_message(demo.main, [_photo(tmp_path), 'the red circle', DEMO_CONFIG,
                                    'model.pth', '--out-file', out, '--out-mask', mask,
                                    '-e', 'the blue square'], capsys)
    assert (f'--out-mask {mask} and --out-file {out} (for expression 2: {mask}) are '
            'the same file') in err


@pytest.mark.parametrize('value', ['2', '-1', 'nan', '0', '1', 'inf'])
def test_image_demo_threshold_lies_between_0_and_1(value, tmp_path, monkeypatch, capsys):
    demo = load_tool('demo/image_demo.py', 'asda_image_demo_args')
    monkeypatch.setattr(demo, 'RISInferencer', _no_work)
    err = _exit_message(demo.main, [_photo(tmp_path), 'the red circle', DEMO_CONFIG,
                                    'model.pth', '--out-file', str(tmp_path / 'o.png'),
                                    '--threshold', value], capsys)
    assert f'--threshold: must lie strictly between 0 and 1, got {value}' in err


@pytest.mark.parametrize('value', ['2', '-1', 'nan', '0', '1', 'inf'])
def test_batch_demo_threshold_lies_between_0_and_1(value, tmp_path, monkeypatch, capsys):
    demo = load_tool('demo/batch_demo.py', 'asda_batch_demo_args')
    monkeypatch.setattr(demo, 'RISInferencer', _no_work)
    monkeypatch.setattr(demo, 'run_batch', _no_work)
    images = tmp_path / 'images'
    images.mkdir()
    _photo(images)
    err = _exit_message(demo.main, [str(images), DEMO_CONFIG, 'model.pth', '-e', 'the circle',
                                    '--out-dir', str(tmp_path / 'out'),
                                    '--threshold', value], capsys)
    assert f'--threshold: must lie strictly between 0 and 1, got {value}' in err
    assert os.listdir(tmp_path) == ['images']


def test_image_demo_refuses_a_decompression_bomb_before_any_work(tmp_path, monkeypatch,
                                                                  capsys):
    """A 12 KB PNG of 10000 x 10000 pixels was decoded whole (300 MB)."""
    import cv2
    demo = load_tool('demo/image_demo.py', 'asda_image_demo_args')
    monkeypatch.setattr(demo, 'RISInferencer', _no_work)
    monkeypatch.setattr(cv2, 'imdecode', _no_work)
    bomb = write_png_bomb(tmp_path / 'bomb.png', 10000, 10000)
    argv = [bomb, 'the red circle', DEMO_CONFIG, 'model.pth',
            '--out-file', str(tmp_path / 'o.png')]
    err = _exit_message(demo.main, argv, capsys)
    assert (f'IMG ({bomb}): 10000 x 10000 = 100,000,000 pixels, more than the limit '
            'of 67,108,864') in err
    small = str(tmp_path / 'small.png')
    cv2.imwrite(small, np.zeros((20, 30, 3), np.uint8))
    err = _exit_message(demo.main, [small] + argv[1:] + ['--max-pixels', '599'], capsys)
    assert f'IMG ({small}): 30 x 20 = 600 pixels, more than the limit of 599' in err
    assert sorted(os.listdir(tmp_path)) == ['bomb.png', 'small.png']


@pytest.mark.parametrize('script', ['demo/image_demo.py', 'demo/gradio_demo.py',
                                    'tools/misc/make_showcase.py'])
def test_model_tools_take_config_and_checkpoint_or_the_demo_model(script, tmp_path, capsys):
    """CONFIG and CHECKPOINT: neither gives the committed demo model's files
    once parsed, both are kept, one alone is refused."""
    from asda.apis import demo_model
    tool = load_tool(script, 'asda_model_args_' + os.path.basename(script)[:-3])
    before, after = [], []
    if script == 'demo/image_demo.py':
        img = tmp_path / 'img.png'
        import cv2
        cv2.imwrite(str(img), np.zeros((4, 4, 3), np.uint8))
        before, after = [str(img), 'the red circle'], ['--out-file', str(tmp_path / 'o.png')]
    args = tool.parse_args(before + after)
    assert (args.config, args.checkpoint) == demo_model()
    args = tool.parse_args(before + ['my_config.py', 'my_model.pth'] + after)
    assert (args.config, args.checkpoint) == ('my_config.py', 'my_model.pth')
    err = _exit_message(tool.parse_args, before + ['my_config.py'] + after, capsys)
    assert 'give both CONFIG and CHECKPOINT, or neither (the demo model)' in err
