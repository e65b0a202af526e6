"""The text-only no-target control (library and command line)."""
import json
import os.path as osp

import pytest
from asda_test_utils import load_tool

from asda.datasets import load_refs
from asda.datasets.synthetic_gres import GREFS_FILE, make_synthetic_grefcoco
from asda.evaluation.text_only_control import (
    is_no_target,
    split_expressions,
    text_only_control,
    text_only_control_on_grefs,
)

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')

TEXTS = ['the red circle', 'both blue squares', 'the leftmost green object',
         'all the yellow triangles on the left', 'the small diamond',
         'the two hexagons', 'upper red shape', 'the bigger blue thing']


_IDS = iter(range(1, 10 ** 6))


def _gref(split, texts, no_target):
    ids = [next(_IDS) for _ in texts]
    return dict(ref_id=ids[0], image_id=1, ann_id=[-1] if no_target else [1],
                split=split, sent_ids=ids,
                sentences=[dict(sent=t, sent_id=i) for t, i in zip(texts, ids)])


def _giveaway(split):
    """No-target expressions, and only they, say 'purple'."""
    return ([_gref(split, [t], False) for t in TEXTS] +
            [_gref(split, [t.replace(t.split()[-1], 'purple ' +
                                     t.split()[-1])], True)
             for t in TEXTS[:5]])


def test_a_giveaway_word_is_found():
    result = text_only_control_on_grefs(_giveaway('train') + _giveaway('val'))
    assert result['balanced_accuracy'] == pytest.approx(100.0)
    assert result['counts'] == {'no-target': 5, 'target': 8}
    assert result['train_counts'] == {'no-target': 5, 'target': 8}


def test_no_signal_is_chance():
    """Every expression is in both classes, in both splits: whatever the
    classifier says of a text is right for one copy and wrong for the other,
    so each class's recall sums to one over the texts: exactly 50%."""
    grefs = [_gref(split, [t], flag) for split in ('train', 'val')
             for t in TEXTS for flag in (False, True)]
    result = text_only_control_on_grefs(grefs, 'train', 'val')
    assert result['balanced_accuracy'] == pytest.approx(50.0)
    assert result['recall_target'] + result['recall_no_target'] == \
        pytest.approx(100.0)


def test_unseen_words_are_dropped():
    # Eval expressions of words never seen in train: all-zero features.
    result = text_only_control(['red a', 'blue b'], [0, 1],
                               ['green c', 'yellow d'], [0, 1])
    assert result['vocabulary_size'] == 4
    assert result['balanced_accuracy'] == pytest.approx(50.0)


def test_no_target_rule_and_errors(tmp_path):
    assert is_no_target(dict(ann_id=[-1])) and is_no_target(dict(ann_id=-1))
    assert is_no_target(dict(ann_id=[], no_target=True))
    with pytest.raises(ValueError, match='contradicts'):
        is_no_target(dict(ann_id=[3], no_target=True))
    assert not is_no_target(dict(ann_id=[3, 4], no_target=False))
    with pytest.raises(ValueError, match="split 'testC'"):
        split_expressions(_giveaway('train'), 'testC')
    with pytest.raises(ValueError, match='no no-target'):
        text_only_control(['a', 'b'], [0, 0], ['a', 'b'], [0, 1])
    with pytest.raises(ValueError, match='mixes -1'):
        is_no_target(dict(ann_id=[-1, 3]))


def test_cli(tmp_path, capsys):
    root = tmp_path / 'data'
    (root / 'grefcoco').mkdir(parents=True)
    (root / GREFS_FILE).write_text(json.dumps(_giveaway('train') +
                                              _giveaway('val')))
    tool = load_tool('tools/analysis_tools/text_only_control.py',
                     'asda_text_only_control')
    out = tmp_path / 'control.json'
    result = tool.main(['--data-root', str(root), '--out', str(out)])
    assert json.loads(out.read_text())['balanced_accuracy'] == \
        result['balanced_accuracy'] == pytest.approx(100.0)
    assert 'balanced accuracy 100.0%' in capsys.readouterr().out


def test_on_generated_synthetic_set(tmp_path):
    """Reported, not bounded: the full set is the one that counts."""
    make_synthetic_grefcoco(str(tmp_path), seed=0,
                            split_sizes=dict(train=60, val=15, testA=1,
                                             testB=1))
    grefs = load_refs(osp.join(str(tmp_path), GREFS_FILE))
    result = text_only_control_on_grefs(grefs, 'train', 'val')
    with open(tmp_path / 'grefcoco' / 'counts.json') as f:
        forms = json.load(f)['forms']['val']
    assert result['counts']['no-target'] == forms['no-target']['expressions']
    assert result['counts']['target'] == (forms['single']['expressions'] +
                                          forms['multi']['expressions'])
    print(f'text-only control on a small synthetic set (60 train / 15 val '
          f'images): balanced accuracy {result["balanced_accuracy"]:.1f}%, '
          f'{result}')


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
    grefs = _giveaway('train') + _giveaway('val')
    edit(grefs)
    (root / GREFS_FILE).write_text(json.dumps(grefs))
    tool = load_tool('tools/analysis_tools/text_only_control.py',
                     'asda_text_only_control')
    with pytest.raises(ValueError, match=match) as err:
        tool.main(['--data-root', str(root)])
    assert str(root / GREFS_FILE) in str(err.value)
