"""tools/dataset_converters/make_synthetic_refcoco.py and
make_synthetic_grefcoco.py: the command lines of the synthetic generators
(asda.synthetic.refer, asda.synthetic.gres)."""
import pytest
from asda_test_utils import load_tool

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')


@pytest.mark.parametrize('tool,splits_of,written,printed', [
    ('make_synthetic_refcoco', lambda s: s['splits']['unc'], 'refcoco/refs(umd).p',
     'refs(umd).p'),
    ('make_synthetic_grefcoco', lambda s: s['splits'], 'grefcoco/grefs(unc).json',
     'no-target'),
])
def test_cli(tool, splits_of, written, printed, tmp_path, capsys):
    cli = load_tool(f'tools/dataset_converters/{tool}.py', tool)
    summary = cli.main(['--out-dir', str(tmp_path), '--num-train', '3',
                        '--num-val', '1', '--num-testA', '1', '--num-testB',
                        '1', '--seed', '4'])
    assert summary['num_images'] == 6
    assert splits_of(summary)['train']['images'] == 3
    assert (tmp_path / written).is_file()
    assert printed in capsys.readouterr().out
