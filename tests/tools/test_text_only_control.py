"""tools/analysis_tools/text_only_control.py: the text-only no-target
control (asda.synthetic.probes) on a gRefCOCO folder."""
import json
import sys

import pytest
from asda_test_utils import Terminal, giveaway_grefs, load_tool

from asda.synthetic.gres import GREFS_FILE


def test_cli(tmp_path, capsys, monkeypatch):
    terminal = Terminal()  # progress: one step per evaluation of the loss
    monkeypatch.setattr(sys, 'stderr', terminal)
    root = tmp_path / 'data'
    (root / 'grefcoco').mkdir(parents=True)
    (root / GREFS_FILE).write_text(json.dumps(giveaway_grefs('train') +
                                              giveaway_grefs('val')))
    tool = load_tool('tools/analysis_tools/text_only_control.py',
                     'asda_text_only_control')
    out = tmp_path / 'control.json'
    result = tool.main(['--data-root', str(root), '--out', str(out)])
    assert json.loads(out.read_text())['balanced_accuracy'] == \
        result['balanced_accuracy'] == pytest.approx(100.0)
    assert 'balanced accuracy 100.0%' in capsys.readouterr().out
    progress = terminal.getvalue()
    assert progress.startswith('fitting the bag-of-words classifier\n')
    assert '/250' in progress and progress.endswith('\n')


def _no_target_string(grefs):
    grefs[-1]['no_target'] = 'false'  # a no-target gref (ann_id [-1])


def _sent_none(grefs):
    grefs[0]['sentences'][0]['sent'] = None


def _empty_sent(grefs):
    grefs[0]['sentences'][0]['sent'] = ''


@pytest.mark.parametrize('edit, match', [
    (_no_target_string, "no_target must be a bool \\(true / false\\), got 'false'"),
    (_sent_none, '"sent" must be a str, got NoneType'),
    (_empty_sent, "\"sent\" is empty: ''"),
])
def test_cli_refuses_what_the_dataset_refuses(tmp_path, edit, match):
    """The control reads the grefs by the dataset's rules (load_refs,
    gref_target_ids): a malformed gref is named, never counted."""
    root = tmp_path / 'data'
    (root / 'grefcoco').mkdir(parents=True)
    grefs = giveaway_grefs('train') + giveaway_grefs('val')
    edit(grefs)
    (root / GREFS_FILE).write_text(json.dumps(grefs))
    tool = load_tool('tools/analysis_tools/text_only_control.py',
                     'asda_text_only_control')
    with pytest.raises(ValueError, match=match) as err:
        tool.main(['--data-root', str(root)])
    assert str(root / GREFS_FILE) in str(err.value)
