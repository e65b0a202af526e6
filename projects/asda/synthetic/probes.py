"""Linear probes of the demo: what a layer carries, and what the words alone
give away.

* The **shape probe** (:func:`shape_probe`, :func:`run_probe`): for every
  object of fresh synthetic scenes (:func:`asda.synthetic.scenes.
  draw_scene`), the patch tokens of a CLIP backbone's layer are averaged
  under the object's mask (weighted by the share of each patch the object
  covers), and a multinomial logistic regression predicts the object's
  shape (5 classes, chance 20%) from that vector. Train and test objects come
  from different scenes. Accuracy is reported per layer.
* The **text-only control** of the no-target decision (gRefCOCO,
  :func:`text_only_control`): can the expression alone tell a no-target
  expression from a target one? A logistic regression on the expression's
  bag of words (word counts over the train split's vocabulary), trained on
  the train split's expressions labelled no-target / target, with the two
  classes weighted alike in the loss (no-target expressions are the fewer),
  is scored on another split by its balanced accuracy: the mean of the two
  per-class recalls, in percent (50 = chance). A high figure would mean the
  data leaks the answer through the words; a model's N-acc / T-acc should
  be read beside it. The grefs are read by the dataset's rules
  (:func:`asda.datasets.load_refs`, :func:`asda.datasets.grefcoco.
  gref_target_ids`), so it applies to real gRefCOCO folders too.

Both fit :func:`fit_logistic_regression`.

Shape letters: N objects or expressions, C channels, V vocabulary size, B
images, h x w token grid.
"""
import logging
import os.path as osp
import random
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger

from asda.datasets.grefcoco import gref_target_ids
from asda.utils.progress import Progress, progress_bar, track

from .scenes import SHAPES, draw_scene, render_scene

__all__ = ['fit_logistic_regression', 'region_weights', 'object_features', 'fit_probe',
           'shape_probe', 'probe_layers', 'build_backbone', 'run_probe',
           'SHAPE_CHANCE', 'TEXT_PAIRS', 'RELATION_PAIRS', 'COSINE_DECIMALS',
           'row_cosines', 'text_cosines', 'is_no_target', 'split_expressions', 'bag_of_words',
           'text_only_control', 'text_only_control_on_grefs']

#: Chance accuracy of the shape probe (percent): one of the 5 shapes.
SHAPE_CHANCE = 100.0 / len(SHAPES)
#: Class indices of the text-only control.
TARGET, NO_TARGET = 0, 1


def fit_logistic_regression(train_x: torch.Tensor, train_y: torch.Tensor,
                            num_classes: int, weight_decay: float = 1e-3,
                            steps: int = 200,
                            class_weight: Optional[torch.Tensor] = None,
                            progress: Optional[Progress] = None
                            ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Multinomial logistic regression (L-BFGS, L2 on the weights) on
    standardised features.

    Args:
        train_x (Tensor): (N, C) features.
        train_y (Tensor): (N,) class indices in [0, num_classes).
        num_classes (int): Number of classes K.
        weight_decay (float): L2 weight.
        steps (int): L-BFGS iterations.
        class_weight (Tensor, optional): (K,) weights of the classes in the
            loss (e.g. to balance them); None weighs every sample alike.
        progress (Progress, optional): One step per evaluation of the loss
            (L-BFGS's ``max_eval``, ``steps * 5 // 4``, at most).

    Returns:
        callable: (M, C) features -> (M,) predicted class indices.
    """
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xtr = (train_x - mean) / std
    linear = torch.nn.Linear(xtr.shape[1], num_classes)
    opt = torch.optim.LBFGS(linear.parameters(), lr=1, max_iter=steps,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(xtr), train_y, weight=class_weight) + \
            weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        if progress is not None:
            progress.update()
        return loss

    with torch.enable_grad():
        opt.step(closure)

    @torch.no_grad()
    def predict(x: torch.Tensor) -> torch.Tensor:
        return linear((x - mean) / std).argmax(1)

    return predict


# -------------------------------------------------------------- shape probe
def region_weights(masks: torch.Tensor, patch_size: Tuple[int, int]
                   ) -> torch.Tensor:
    """Each object's weights over the patch grid: the share of each patch
    its mask covers, normalised to sum 1 (the mask-average of patch tokens
    that the shape probe and stage one's dense term take).

    Args:
        masks (Tensor): (n, H, W) object masks (bool or float), H and W
            multiples of the patch size.
        patch_size (tuple[int, int]): (ph, pw).

    Returns:
        Tensor: (n, h, w) weights, h = H / ph, w = W / pw.
    """
    # (n, H, W) -> (n, 1, H, W) -> (n, h, w) share of each patch covered
    cover = F.avg_pool2d(masks[:, None].float(), patch_size)[:, 0]
    return cover / cover.sum(dim=(1, 2), keepdim=True).clamp_min(1e-6)


@torch.no_grad()
def object_features(backbone, scenes: Sequence[dict], img_size: int = 224,
                    batch_size: int = 16
                    ) -> Tuple[Dict[int, torch.Tensor], torch.Tensor]:
    """Mask-averaged patch tokens of every object, per backbone out layer.

    Args:
        backbone: a :class:`asda.CLIPBackbone` (``forward_visual``).
        scenes: scenes of :func:`asda.synthetic.scenes.draw_scene`.

    Returns:
        tuple: {layer: (N, C) features}, (N,) shape labels (index in SHAPES).
    """
    backbone.eval()
    ph, pw = backbone.patch_size
    feats = {layer: [] for layer in backbone.out_indices}
    labels = []
    starts = range(0, len(scenes), batch_size)
    for start in track(starts, f'object features of {len(scenes)} scenes'):
        chunk = scenes[start:start + batch_size]
        rendered = [render_scene(s, img_size) for s in chunk]
        imgs = torch.stack([img for img, _ in rendered])  # (B, 3, H, W)
        layer_maps, _ = backbone.forward_visual(imgs)  # each (B, C, h, w)
        for b, (scene, (_, masks)) in enumerate(zip(chunk, rendered)):
            weights = region_weights(masks, (ph, pw))  # (n, h, w)
            for layer, fmap in zip(backbone.out_indices, layer_maps):
                # (n, h, w) x (C, h, w) -> (n, C)
                feats[layer].append(torch.einsum('nhw,chw->nc', weights, fmap[b]))
            labels += [SHAPES.index(o['shape']) for o in scene['objects']]
    return ({layer: torch.cat(v) for layer, v in feats.items()},
            torch.tensor(labels))


def fit_probe(train_x: torch.Tensor, train_y: torch.Tensor,
              test_x: torch.Tensor, test_y: torch.Tensor,
              weight_decay: float = 1e-3, steps: int = 200) -> float:
    """The shape probe's classifier (:func:`fit_logistic_regression` over
    the shapes); returns the test accuracy in percent.

    Args:
        train_x, test_x (Tensor): (N, C) features.
        train_y, test_y (Tensor): (N,) class indices.
    """
    predict = fit_logistic_regression(train_x, train_y, len(SHAPES),
                                      weight_decay, steps)
    return 100.0 * (predict(test_x) == test_y).float().mean().item()


def shape_probe(backbone, layers: Sequence[int], seed: int = 12345,
                num_train_scenes: int = 300, num_test_scenes: int = 150,
                img_size: int = 224) -> Dict[int, float]:
    """Shape-probe accuracy (percent, chance 20%) of ``backbone`` at each of
    ``layers`` (1-based, among its ``out_indices``), on scenes drawn from
    ``seed``: the first ``num_train_scenes`` train the probe, the others
    test it."""
    missing = [layer for layer in layers if layer not in backbone.out_indices]
    if missing:
        raise ValueError(f'layers {missing} are not among the backbone\'s '
                         f'out_indices {backbone.out_indices}')
    rng = random.Random(seed)
    scenes = [draw_scene(rng) for _ in range(num_train_scenes + num_test_scenes)]
    feats, labels = object_features(backbone, scenes, img_size)
    n_train = sum(len(s['objects']) for s in scenes[:num_train_scenes])
    return {layer: fit_probe(feats[layer][:n_train], labels[:n_train],
                             feats[layer][n_train:], labels[n_train:])
            for layer in track(layers, f'fitting the probe at {len(layers)} layers')}


def probe_layers(cfg: Config) -> Dict[int, str]:
    """Layer number -> its group ('low', 'mid', 'top') from the config's AFS
    neck: every layer AFS can choose, and the top layer."""
    neck = cfg.model.neck
    groups = {layer: 'low' for layer in neck.low_layers}
    groups.update({layer: 'mid' for layer in neck.mid_layers})
    groups[neck.top_layer] = 'top'
    return dict(sorted(groups.items()))


def build_backbone(cfg: Config, pretrained: Optional[str] = None):
    """The config's CLIPBackbone with its weights loaded (``pretrained``
    overrides the config's)."""
    from mmseg.registry import MODELS
    bcfg = cfg.model.backbone.copy()
    if pretrained is not None:
        if not osp.isfile(pretrained):
            raise FileNotFoundError(f'--pretrained: no such file {pretrained}')
        bcfg.pretrained = pretrained
    backbone = MODELS.build(bcfg)
    # mmengine logs every parameter's init at INFO: keep the console readable
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        backbone.init_weights()
    finally:
        logger.setLevel(level)
    return backbone.eval()


def run_probe(cfg: Config, pretrained: Optional[str] = None, seed: int = 12345,
              train_scenes: int = 300, test_scenes: int = 150) -> dict:
    """The shape probe of the config's backbone at :func:`probe_layers`:
    ``{layer: dict(group, accuracy)}``."""
    layers = probe_layers(cfg)
    img_size = cfg.model.backbone.get('img_size', 224)
    torch.manual_seed(0)
    acc = shape_probe(build_backbone(cfg, pretrained), list(layers), seed=seed,
                      num_train_scenes=train_scenes,
                      num_test_scenes=test_scenes, img_size=img_size)
    return {layer: dict(group=group, accuracy=acc[layer])
            for layer, group in layers.items()}


# ------------------------------------------------------------ text cosines
#: Pairs of expressions whose sentence embeddings a text tower must keep
#: apart: the position and size pairs the referring task depends on, and
#: a colour and a shape pair to compare them with.
TEXT_PAIRS = {
    'left/right': ('the circle on the left', 'the circle on the right'),
    'left/right (before the noun)': ('the left circle', 'the right circle'),
    'top/bottom': ('the object at the top', 'the object at the bottom'),
    'smallest/largest': ('the smallest object', 'the largest object'),
    'red/blue': ('the red circle', 'the blue circle'),
    'circle/square': ('the red circle', 'the red square'),
}
#: The pairs of :data:`TEXT_PAIRS` that name relations.
RELATION_PAIRS = ('left/right', 'left/right (before the noun)', 'top/bottom',
                  'smallest/largest')


#: Decimals a reported cosine is rounded to.
COSINE_DECIMALS = 3


def row_cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine of each row of ``a`` (N, D) with the same row of ``b`` (N, D):
    (N,)."""
    return (F.normalize(a.float(), dim=-1) * F.normalize(b.float(), dim=-1)).sum(-1)


@torch.no_grad()
def text_cosines(encode: Callable[[List[str]], torch.Tensor],
                 pairs: Optional[Dict[str, Tuple[str, str]]] = None
                 ) -> Dict[str, float]:
    """Cosine of the sentence embeddings of each pair of expressions.

    Args:
        encode (callable): list of N texts -> (N, D) sentence embeddings
            (an open_clip ``encode_text`` after tokenising, or a
            :class:`asda.CLIPBackbone`'s ``sent_feat``).
        pairs (dict, optional): name -> (text, text); default
            :data:`TEXT_PAIRS`.

    Returns:
        dict: name -> cosine, rounded to :data:`COSINE_DECIMALS`.
    """
    pairs = TEXT_PAIRS if pairs is None else pairs
    texts = [t for pair in pairs.values() for t in pair]
    # (2P, D) -> (P, 2, D)
    feats = encode(texts).reshape(len(pairs), 2, -1)
    cos = row_cosines(feats[:, 0], feats[:, 1])  # (P,)
    return {name: round(c, COSINE_DECIMALS) for name, c in zip(pairs, cos.tolist())}


# ------------------------------------------------------- text-only control
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
    bar = progress_bar(steps * 5 // 4, 'fitting the bag-of-words classifier')
    predict = fit_logistic_regression(xtr, ytr, 2, weight_decay, steps,
                                      class_weight=weight, progress=bar)
    bar.close()
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
