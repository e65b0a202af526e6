"""Text-only control of the no-target decision (gRefCOCO).

Can the expression alone tell a no-target expression from a target one? A
logistic regression (:func:`asda.evaluation.shape_probe.
fit_logistic_regression`: L2, L-BFGS) on the expression's bag of words
(word counts over the train split's vocabulary), trained on the train
split's expressions labelled no-target / target, with the two classes
weighted alike in the loss (no-target expressions are the fewer), is scored
on another split by its balanced accuracy: the mean of the two per-class
recalls, in percent (50 = chance). A high figure would mean the data leaks
the answer through the words; a model's N-acc / T-acc should be read beside
it.

The grefs are read with :func:`asda.datasets.load_refs` (JSON or pickle),
the dataset's reader.

Shape letters: N expressions, V vocabulary size.
"""
from typing import Dict, List, Sequence, Tuple

import torch

from ..datasets.grefcoco import gref_target_ids
from .shape_probe import fit_logistic_regression

__all__ = ['is_no_target', 'split_expressions',
           'bag_of_words', 'text_only_control', 'text_only_control_on_grefs']

#: Class indices of the control.
TARGET, NO_TARGET = 0, 1


def is_no_target(gref: dict, where: str = '') -> bool:
    """Whether a gref has no target (:func:`asda.datasets.grefcoco.
    gref_target_ids`, the dataset's rule; ``where`` names the gref in its
    errors)."""
    return not gref_target_ids(gref, where)


def split_expressions(grefs: Sequence[dict], split: str, source: str = ''
                      ) -> Tuple[List[str], List[int]]:
    """The expressions (``sent``) of a split's grefs and their labels
    (:data:`NO_TARGET` / :data:`TARGET`); ``source`` (the grefs file) is
    named in errors.

    Raises:
        ValueError: the split has no expression, or a gref breaks the
            target rule.
    """
    texts, labels = [], []
    for g in grefs:
        if g.get('split') != split:
            continue
        where = f'ref_id={g.get("ref_id")} of {source}' if source else ''
        label = NO_TARGET if is_no_target(g, where) else TARGET
        for s in g['sentences']:
            texts.append(s['sent'])
            labels.append(label)
    if not texts:
        found = sorted({str(g.get('split')) for g in grefs})
        raise ValueError(f'split {split!r} has no expressions (splits: '
                         f'{found})')
    return texts, labels


def bag_of_words(texts: Sequence[str], vocabulary: Dict[str, int]
                 ) -> torch.Tensor:
    """(N, V) word counts of lower-cased, whitespace-split ``texts``; words
    outside ``vocabulary`` (word -> column) are dropped."""
    x = torch.zeros(len(texts), len(vocabulary))
    for n, text in enumerate(texts):
        for word in text.lower().split():
            if word in vocabulary:
                x[n, vocabulary[word]] += 1
    return x


def text_only_control(train_texts: Sequence[str], train_labels: Sequence[int],
                      eval_texts: Sequence[str], eval_labels: Sequence[int],
                      weight_decay: float = 1e-3, steps: int = 200) -> dict:
    """Fit the bag-of-words classifier on the train expressions and score it
    on the eval ones.

    Returns:
        dict: ``balanced_accuracy``, ``recall_no_target``, ``recall_target``
        (percent), the eval ``counts`` and ``train_counts`` per class and the
        ``vocabulary_size``.

    Raises:
        ValueError: a class is missing from the train or the eval labels.
    """
    ytr = torch.tensor(list(train_labels))
    yev = torch.tensor(list(eval_labels))
    for name, y in (('train', ytr), ('eval', yev)):
        missing = [c for c, k in (('target', TARGET), ('no-target', NO_TARGET))
                   if not (y == k).any()]
        if missing:
            raise ValueError(f'the {name} expressions have no {missing[0]} '
                             f'expression; the control needs both classes')
    words = sorted({w for t in train_texts for w in t.lower().split()})
    vocabulary = {w: k for k, w in enumerate(words)}
    xtr = bag_of_words(train_texts, vocabulary)  # (N, V)
    xev = bag_of_words(eval_texts, vocabulary)  # (N, V)
    counts = torch.bincount(ytr, minlength=2).float()
    weight = counts.sum() / (2 * counts)  # both classes weigh alike
    torch.manual_seed(0)  # the classifier's initial weights
    predict = fit_logistic_regression(xtr, ytr, 2, weight_decay, steps,
                                      class_weight=weight)
    pred = predict(xev)
    recall = {k: 100.0 * (pred[yev == k] == k).float().mean().item()
              for k in (TARGET, NO_TARGET)}
    return dict(balanced_accuracy=(recall[TARGET] + recall[NO_TARGET]) / 2,
                recall_no_target=recall[NO_TARGET],
                recall_target=recall[TARGET],
                counts={'no-target': int((yev == NO_TARGET).sum()),
                        'target': int((yev == TARGET).sum())},
                train_counts={'no-target': int(counts[NO_TARGET]),
                              'target': int(counts[TARGET])},
                vocabulary_size=len(vocabulary))


def text_only_control_on_grefs(grefs: Sequence[dict], train_split: str = 'train',
                               eval_split: str = 'val', source: str = '',
                               **kwargs) -> dict:
    """:func:`text_only_control` on two splits of a list of grefs (read
    from the file ``source``, named in errors); the result also names the
    splits."""
    train = split_expressions(grefs, train_split, source)
    evaluated = split_expressions(grefs, eval_split, source)
    result = text_only_control(*train, *evaluated, **kwargs)
    return dict(result, train_split=train_split, eval_split=eval_split)
