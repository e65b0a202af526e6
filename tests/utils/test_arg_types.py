"""asda.utils.arg_types: the run options every demo tool shares."""
import argparse

import pytest

from asda.utils.arg_types import add_inference_args


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_inference_args(parser, 64)
    return parser.parse_args(argv)


def test_inference_args_defaults_and_values():
    args = _parse([])
    assert (args.threshold, args.device, args.dtype, args.max_pixels) == (None, 'cpu',
                                                                           'fp32', 64)
    args = _parse(['--threshold', '0.4', '--device', 'cuda:1', '--bf16', '--max-pixels', '9'])
    assert (args.threshold, args.device, args.dtype, args.max_pixels) == (0.4, 'cuda:1',
                                                                           'bf16', 9)
    assert _parse(['--fp16']).dtype == 'fp16'


@pytest.mark.parametrize('argv', [['--fp16', '--bf16'], ['--threshold', '1'],
                                  ['--threshold', '0'], ['--threshold', 'nan'],
                                  ['--max-pixels', '0']])
def test_inference_args_refuse_at_parse_time(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert ('not allowed with argument' in err) or (argv[0] in err)
