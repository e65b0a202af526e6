"""tools/dataset_converters/make_synthetic_refcoco.py and
make_synthetic_grefcoco.py: the command lines of the synthetic generators
(asda.synthetic.refer, asda.synthetic.gres)."""
import sys

import pytest
from asda_test_utils import Terminal, load_tool

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')


@pytest.mark.parametrize('tool,splits_of,written,printed', [
    ('make_synthetic_refcoco', lambda s: s['splits']['unc'], 'refcoco/refs(umd).p',
     'refs(umd).p'),
    ('make_synthetic_grefcoco', lambda s: s['splits'], 'grefcoco/grefs(unc).json',
     'no-target'),
])
def test_cli(tool, splits_of, written, printed, tmp_path, capsys, monkeypatch):
    terminal = Terminal()  # a progress bar on a terminal: one step per image
    monkeypatch.setattr(sys, 'stderr', terminal)
    cli = load_tool(f'tools/dataset_converters/{tool}.py', tool)
    summary = cli.main(['--out-dir', str(tmp_path), '--num-train', '3',
                        '--num-val', '1', '--num-testA', '1', '--num-testB',
                        '1', '--seed', '4'])
    assert summary['num_images'] == 6
    assert splits_of(summary)['train']['images'] == 3
    assert (tmp_path / written).is_file()
    assert printed in capsys.readouterr().out
    progress = terminal.getvalue()
    assert progress.startswith(f'writing 6 images to {tmp_path}\n')
    assert '6/6' in progress and progress.endswith('\n')
