"""Linear shape probe: does a CLIP backbone's layer carry object shape?

For every object of fresh synthetic scenes
(:mod:`asda.datasets.synthetic_captions`), the patch tokens of a layer are
averaged under the object's mask (weighted by the share of each patch the
object covers), and a multinomial logistic regression predicts the object's
shape (5 classes, chance 20%) from that vector. Train and test objects come
from different scenes. Accuracy is reported per layer.

Shape letters: N objects, C channels, B images, h x w token grid.
"""
import random
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from asda.datasets.synthetic import SHAPES
from asda.datasets.synthetic_captions import draw_scene, render_scene

__all__ = ['object_features', 'fit_logistic_regression', 'fit_probe',
           'shape_probe']


@torch.no_grad()
def object_features(backbone, scenes: Sequence[dict], img_size: int = 224,
                    batch_size: int = 16
                    ) -> Tuple[Dict[int, torch.Tensor], torch.Tensor]:
    """Mask-averaged patch tokens of every object, per backbone out layer.

    Args:
        backbone: a :class:`asda.CLIPBackbone` (``forward_visual``).
        scenes: scenes of :func:`asda.datasets.synthetic_captions.draw_scene`.

    Returns:
        tuple: {layer: (N, C) features}, (N,) shape labels (index in SHAPES).
    """
    backbone.eval()
    ph, pw = backbone.patch_size
    feats = {layer: [] for layer in backbone.out_indices}
    labels = []
    for start in range(0, len(scenes), batch_size):
        chunk = scenes[start:start + batch_size]
        rendered = [render_scene(s, img_size) for s in chunk]
        imgs = torch.stack([img for img, _ in rendered])  # (B, 3, H, W)
        layer_maps, _ = backbone.forward_visual(imgs)  # each (B, C, h, w)
        for b, (scene, (_, masks)) in enumerate(zip(chunk, rendered)):
            # (n, H, W) masks -> (n, h, w) share of each patch covered
            cover = F.avg_pool2d(masks[:, None].float(), (ph, pw))[:, 0]
            weights = cover / cover.sum(dim=(1, 2), keepdim=True).clamp_min(1e-6)
            for layer, fmap in zip(backbone.out_indices, layer_maps):
                # (n, h, w) x (C, h, w) -> (n, C)
                feats[layer].append(torch.einsum('nhw,chw->nc', weights, fmap[b]))
            labels += [SHAPES.index(o['shape']) for o in scene['objects']]
    return ({layer: torch.cat(v) for layer, v in feats.items()},
            torch.tensor(labels))


def fit_logistic_regression(train_x: torch.Tensor, train_y: torch.Tensor,
                            num_classes: int, weight_decay: float = 1e-3,
                            steps: int = 200,
                            class_weight: Optional[torch.Tensor] = None
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
        return loss

    with torch.enable_grad():
        opt.step(closure)

    @torch.no_grad()
    def predict(x: torch.Tensor) -> torch.Tensor:
        return linear((x - mean) / std).argmax(1)

    return predict


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
            for layer in layers}
