"""The probes (asda.synthetic.probes): the text-only no-target control and
the shape probe's classifier; the command lines are tested in
tests/tools/test_text_only_control.py and test_pretrain_tiny_clip.py."""
import json
import os.path as osp

import pytest
import torch
from asda_test_utils import CONTROL_TEXTS, control_gref, giveaway_grefs

from asda.datasets import load_refs
from asda.synthetic.gres import GREFS_FILE, make_synthetic_grefcoco
from asda.synthetic.probes import (
    fit_logistic_regression,
    fit_probe,
    is_no_target,
    split_expressions,
    text_only_control,
    text_only_control_on_grefs,
)

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')


def test_logistic_regression_separates_the_shapes():
    """The shape probe's classifier on five well-separated clusters of
    features: every held-out sample is classified right."""
    g = torch.Generator().manual_seed(0)
    centres = 4 * torch.eye(5)  # one cluster per shape, in 5-D
    y = torch.arange(5).repeat(20)
    train_x = centres[y] + 0.3 * torch.randn(100, 5, generator=g)
    test_x = centres[y] + 0.3 * torch.randn(100, 5, generator=g)
    assert fit_probe(train_x, y, test_x, y) == pytest.approx(100.0)


def test_class_weight_balances_a_rare_class():
    """90 samples of class 0 against 10 of an overlapping class 1: weighed
    alike, the classes' recalls move towards each other."""
    g = torch.Generator().manual_seed(0)
    y = torch.cat([torch.zeros(90, dtype=torch.long), torch.ones(10, dtype=torch.long)])
    x = (y.float() * 1.5 + torch.randn(100, generator=g))[:, None]
    plain = fit_logistic_regression(x, y, 2)(x)
    weighted = fit_logistic_regression(x, y, 2, class_weight=torch.tensor(
        [100 / 180, 100 / 20]))(x)
    recall = [(p[y == 1] == 1).float().mean().item() for p in (plain, weighted)]
    assert recall[1] > recall[0] + 0.3, recall


def test_a_giveaway_word_is_found():
    result = text_only_control_on_grefs(giveaway_grefs('train') + giveaway_grefs('val'))
    assert result['balanced_accuracy'] == pytest.approx(100.0)
    assert result['counts'] == {'no-target': 5, 'target': 8}
    assert result['train_counts'] == {'no-target': 5, 'target': 8}


def test_no_signal_is_chance():
    """Every expression is in both classes, in both splits: whatever the
    classifier says of a text is right for one copy and wrong for the other,
    so each class's recall sums to one over the texts: exactly 50%."""
    grefs = [control_gref(split, [t], flag) for split in ('train', 'val')
             for t in CONTROL_TEXTS for flag in (False, True)]
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
        split_expressions(giveaway_grefs('train'), 'testC')
    with pytest.raises(ValueError, match='no no-target'):
        text_only_control(['a', 'b'], [0, 0], ['a', 'b'], [0, 1])
    with pytest.raises(ValueError, match='mixes -1'):
        is_no_target(dict(ann_id=[-1, 3]))


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
