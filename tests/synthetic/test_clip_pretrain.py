"""Contrastive pretraining of the tiny CLIP (stage one of the demo,
asda.synthetic.clip_pretrain): a short run learns, the checkpoint loads into
CLIPBackbone like OpenAI's weights."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from asda.models.backbones import CLIPBackbone
from asda.models.backbones.clip_weights import convert_clip_state_dict, read_clip_state_dict
from asda.synthetic import clip_pretrain as cp
from asda.synthetic.captions import TWIN_KINDS, CaptionStream
from asda.synthetic.dense_terms import ObjectGroundingLoss, RegionPhraseLoss, object_geometry
from asda.synthetic.probes import COSINE_DECIMALS, RELATION_PAIRS, TEXT_PAIRS

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs/asda/_base_/models/asda_tiny-clip.py')


@pytest.mark.slow
def test_short_run_beats_shuffled_captions():
    """The demo's tiny CLIP at 64 x 64 input (4 x 4 tokens), 40 steps of 24:
    the held-out loss falls below that of the same model on shuffled
    captions. (A still smaller CLIP, 2 visual layers of width 64, collapses
    to constant features, loss ln(B), in as many steps.)"""
    backbone_cfg = Config.fromfile(TINY).model.backbone
    backbone_cfg.img_size = 64
    torch.manual_seed(0)
    model, tokenizer = cp.build_pretrain_clip(backbone_cfg)
    heldout = cp.heldout_set(seed=7, num=24, img_size=64)
    assert len(set(heldout['captions'])) == 24
    untrained = cp.evaluate_zero_shot(model, tokenizer, heldout)
    stream = CaptionStream(seed=3, batch_size=24, twin_share=0, img_size=64)
    history = cp.train_steps(model, tokenizer, stream, steps=40, lr=5e-4,
                             log_every=10, log=lambda msg: None,
                             weights=dict(contrastive=1.0, dense=0.0))
    assert [r['step'] for r in history] == [10, 20, 30, 40]
    assert all(set(r) == {'step', 'loss', 'contrastive', 'cosines'} for r in history)
    # the relation words' cosines at every log, so that a collapse shows
    assert all(set(r['cosines']) == set(RELATION_PAIRS) for r in history)
    assert all(-1 <= c <= 1 for r in history for c in r['cosines'].values())
    figures = cp.evaluate_zero_shot(model, tokenizer, heldout)
    assert figures['chance_top1'] == pytest.approx(100 / 24)
    assert figures['loss'] < figures['loss_shuffled'] - 0.03, figures
    assert figures['loss'] < untrained['loss'] - 0.1
    for key in ('retrieval_top1', 'shape_negative_acc', 'position_negative_acc',
                'size_negative_acc'):
        assert 0 <= figures[key] <= 100
    assert set(figures['text_cosines']) == set(TEXT_PAIRS)


def test_checkpoint_loads_into_clip_backbone(tmp_path):
    """The demo's tiny CLIP: an fp16 open_clip file under 20 MB whose
    converted keys are exactly the backbone's, loaded by init_weights."""
    backbone_cfg = Config.fromfile(TINY).model.backbone
    torch.manual_seed(1)
    model, _ = cp.build_pretrain_clip(backbone_cfg)
    path = str(tmp_path / 'tiny_clip.pt')
    cp.save_open_clip(model, path)
    assert osp.getsize(path) <= 20 * 2**20
    state = read_clip_state_dict(path)
    assert all(v.dtype == torch.float16 for v in state.values()
               if v.is_floating_point())
    assert state['positional_embedding'].shape[0] == 77  # open_clip's context
    assert 'logit_scale' in state and 'visual.proj' in state

    cfg = {k: v for k, v in backbone_cfg.items() if k != 'type'}
    backbone = CLIPBackbone(**dict(cfg, pretrained=path))
    converted = convert_clip_state_dict(
        state, num_blocks=len(backbone.visual.transformer.resblocks),
        grid_size=backbone.grid_size, context_length=backbone.context_length)
    assert set(converted) == set(backbone.state_dict())  # none missing / extra
    before = backbone.visual.conv1.weight.detach().clone()
    backbone.init_weights()
    loaded = backbone.visual.conv1.weight.detach()
    assert not torch.equal(before, loaded)
    assert torch.equal(loaded, model.visual.conv1.weight.detach().half().float())
    assert torch.equal(backbone.text.token_embedding.weight.detach(),
                       model.token_embedding.weight.detach().half().float())


class _ProjectionCLIP(torch.nn.Module):
    """A stand-in CLIP whose features come straight from its input: an
    image's pixels and a caption's token counts, each through a fixed random
    projection, so that different inputs get clearly different features."""

    def __init__(self, img_size, vocab_size, dim=32):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.image_proj = torch.randn(3 * img_size * img_size, dim, generator=gen)
        self.text_proj = torch.randn(vocab_size, dim, generator=gen)
        self.logit_scale = torch.nn.Parameter(torch.zeros(()))

    @staticmethod
    def _out(feats, normalize):
        return torch.nn.functional.normalize(feats, dim=-1) if normalize else feats

    def encode_image(self, images, normalize=False):
        return self._out(images.flatten(1) @ self.image_proj, normalize)

    def encode_text(self, tokens, normalize=False):
        counts = torch.zeros(len(tokens), len(self.text_proj)).scatter_add_(
            1, tokens, torch.ones(tokens.shape))
        counts[:, 0] = 0  # padding
        return self._out(counts @ self.text_proj, normalize)


def test_twin_cosines_pair_each_base_with_its_own_twin():
    """``twin_cosines`` of each kind compares a base scene's image and
    caption with those of its twin of that kind: a twin made identical to
    its base gives 1.0 on that side and kind only."""
    img_size, num, group = 64, 6, 1 + len(TWIN_KINDS)
    clip, tokenizer = _tiny_clip(img_size)
    heldout = cp.heldout_set(seed=5, num=num, img_size=img_size)
    position, size = (1 + TWIN_KINDS.index(k) for k in ('position', 'size'))
    heldout['twin_images'][:, position] = heldout['twin_images'][:, 0]
    for captions in heldout['twin_captions']:
        captions[size] = captions[0]
    model = _ProjectionCLIP(img_size, clip.token_embedding.num_embeddings)
    cosines = cp.evaluate_zero_shot(model, tokenizer, heldout)['twin_cosines']
    images = model.encode_image(heldout['twin_images'].flatten(0, 1), normalize=True)
    texts = model.encode_text(tokenizer(
        [t for captions in heldout['twin_captions'] for t in captions]), normalize=True)
    # (num * G, D) -> (num, G, D)
    images, texts = images.view(num, group, -1), texts.view(num, group, -1)
    # rounding to 3 decimals, and float error far below it
    tolerance = 0.5 * 10 ** -COSINE_DECIMALS + 1e-4
    for k, kind in enumerate(TWIN_KINDS, start=1):
        expected = {name: sum(f[g, 0] @ f[g, k] for g in range(num)).item() / num
                    for name, f in (('image', images), ('caption', texts))}
        assert cosines[kind] == pytest.approx(expected, abs=tolerance)
        for name, value in cosines[kind].items():
            made_identical = (kind, name) in (('position', 'image'), ('size', 'caption'))
            # a stand-in that told the other pairs apart no better than the
            # tolerance would leave the test unable to see a wrong pairing
            assert (value == 1.0) if made_identical else (value < 1 - 10 * tolerance), \
                (kind, name, value)


def test_lr_schedule():
    lrs = [cp.lr_at(s, 100, 1.0, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.01


def _tiny_clip(img_size=64, seed=0):
    backbone_cfg = Config.fromfile(TINY).model.backbone
    backbone_cfg.img_size = img_size
    torch.manual_seed(seed)
    return cp.build_pretrain_clip(backbone_cfg)


def test_dense_term_is_the_region_phrase_infonce():
    """RegionPhraseLoss on hand-made tokens: each object's tokens averaged
    under its mask (the shape probe's weights), projected, cosine against
    the phrases, scaled, cross-entropy against its own phrase."""
    torch.manual_seed(0)
    term = RegionPhraseLoss(width=3, embed_dim=2, patch_size=(2, 2), layer=1)
    tokens = torch.randn(2, 3, 2, 2)  # (B, C, h, w)
    masks = [torch.zeros(2, 4, 4, dtype=torch.bool),
             torch.zeros(1, 4, 4, dtype=torch.bool)]
    masks[0][0, :2, :2] = True           # object 0: patch (0, 0) only
    masks[0][1, 2:, :] = True            # object 1: patches (1, 0), (1, 1)
    masks[1][0, 0, 2:] = True            # object 2: half of patch (0, 1)
    phrases = torch.nn.functional.normalize(torch.randn(4, 2), dim=-1)
    labels = torch.tensor([3, 0, 1])
    regions = torch.stack([tokens[0, :, 0, 0],
                           tokens[0, :, 1, :].mean(-1),
                           tokens[1, :, 0, 1]])
    feats = torch.nn.functional.normalize(term.proj(regions), dim=-1)
    logits = (1 / 0.07) * feats @ phrases.T
    expected = torch.nn.functional.cross_entropy(logits, labels)
    value = term(tokens, masks, labels, phrases)
    torch.testing.assert_close(value, expected)
    value.backward()
    assert term.proj.weight.grad.abs().sum() > 0 and term.logit_scale.grad != 0


def test_dense_term_pools_the_chosen_layer_and_trains_both_towers():
    """loss_terms with the dense weight only: one visual pass gives the
    layer's tokens (open_clip's forward_intermediates, 1-based layer), the
    phrases come from the text tower, and both towers get gradients; the
    captions' term is not computed."""
    model, tokenizer = _tiny_clip()
    stream = CaptionStream(seed=3, batch_size=6, twin_share=0, img_size=64)
    batch = stream[0]
    weights = dict(contrastive=0, dense=1)
    dense = cp.build_dense_terms(model, weights, layer=4)
    assert set(dense) == {'dense'}
    assert dense['dense'].layer == 4 and dense['dense'].patch_size == (16, 16)
    assert cp.build_dense_terms(model, weights)['dense'].layer == 6  # the top by default
    terms = cp.loss_terms(model, tokenizer, batch, weights, None, dense)
    assert set(terms) == {'dense'}
    terms['dense'].backward()
    assert model.visual.transformer.resblocks[3].mlp.c_fc.weight.grad is not None
    assert model.visual.transformer.resblocks[5].mlp.c_fc.weight.grad is None
    assert model.token_embedding.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='needs its term .RegionPhraseLoss'):
        cp.loss_terms(model, tokenizer, batch, dict(dense=1), None, None)
    with pytest.raises(ValueError, match='needs its term .ObjectGroundingLoss'):
        cp.loss_terms(model, tokenizer, batch, dict(grounding=1), None, dense)


@pytest.mark.slow
def test_dense_term_learns_the_phrases():
    """30 steps of the dense term alone on 64 x 64 scenes: its loss falls
    well below chance (ln 25, the phrases' number) and below its start."""
    model, tokenizer = _tiny_clip()
    dense = cp.build_dense_terms(model, dict(dense=1.0))
    stream = CaptionStream(seed=3, batch_size=12, twin_share=0, img_size=64)
    history = cp.train_steps(model, tokenizer, stream, steps=30, lr=1e-3,
                             weight_decay=0.05, warmup=1, log_every=5,
                             log=lambda msg: None,
                             weights=dict(contrastive=0.0, dense=1.0), dense=dense)
    first, last = history[0]['dense'], history[-1]['dense']
    assert last < first - 0.5 and last < 0.8 * math.log(25), history


def test_object_geometry():
    """Centroid in [-1, 1] of the input and sqrt of the share covered."""
    masks = torch.zeros(2, 5, 9, dtype=torch.bool)
    masks[0, 0, 0] = True                      # the top-left pixel
    masks[1, 1:4, 5:8] = True                  # 3 x 3 around (6, 2)
    geo = object_geometry(masks)
    torch.testing.assert_close(geo[0], torch.tensor([-1.0, -1.0, (1 / 45) ** 0.5]))
    torch.testing.assert_close(geo[1], torch.tensor([0.5, 0.0, (9 / 45) ** 0.5]))


def test_grounding_term_is_an_infonce_over_the_scene_objects():
    """ObjectGroundingLoss by hand: each object's mask-averaged tokens,
    projected, plus its projected geometry, normalised; each expression
    scored against the objects of its own image only, cross-entropy
    against its own object."""
    torch.manual_seed(0)
    term = ObjectGroundingLoss(width=3, embed_dim=2, patch_size=(2, 2), layer=1)
    tokens = torch.randn(2, 3, 2, 2)  # (B, C, h, w)
    masks = [torch.zeros(2, 4, 4, dtype=torch.bool),
             torch.zeros(1, 4, 4, dtype=torch.bool)]
    masks[0][0, :2, :2] = True           # image 0, object 0: patch (0, 0)
    masks[0][1, 2:, :] = True            # image 0, object 1: patches (1, 0), (1, 1)
    masks[1][0, 0, 2:] = True            # image 1, object 0: half of patch (0, 1)
    texts = torch.nn.functional.normalize(torch.randn(3, 2), dim=-1)
    image_index = torch.tensor([0, 0, 1])
    targets = torch.tensor([1, 0, 2])    # among the batch's 3 objects
    regions = torch.stack([tokens[0, :, 0, 0], tokens[0, :, 1, :].mean(-1),
                           tokens[1, :, 0, 1]])
    geometry = torch.tensor([[-2 / 3, -2 / 3, 0.5], [0.0, 2 / 3, 0.5 ** 0.5],
                             [2 / 3, -1.0, (2 / 16) ** 0.5]])
    feats = torch.nn.functional.normalize(
        term.proj(regions) + term.geometry(geometry), dim=-1)
    logits = 10.0 * texts @ feats.T
    expected = torch.stack([
        torch.nn.functional.cross_entropy(logits[0, :2], torch.tensor(1)),
        torch.nn.functional.cross_entropy(logits[1, :2], torch.tensor(0)),
        torch.tensor(0.0)])              # one object in image 1: nothing to pick
    value = term(tokens, masks, image_index, targets, texts)
    torch.testing.assert_close(value, expected.mean())
    value.backward()
    assert term.geometry.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_grounding_term_trains_the_position_words():
    """40 steps of the grounding term alone at 64 x 64: the text tower
    separates "the circle on the left" from "...on the right" (the cosine
    of their sentence embeddings falls from above 0.9 to below 0.6; the
    rarer top / bottom and size pairs take longer), and a batch with no
    expression gives a zero term."""
    model, tokenizer = _tiny_clip()
    weights = dict(contrastive=0.0, grounding=1.0)
    dense = cp.build_dense_terms(model, weights)
    assert set(dense) == {'grounding'}
    stream = CaptionStream(seed=3, batch_size=8, twin_share=0, img_size=64)
    history = cp.train_steps(model, tokenizer, stream, steps=40, lr=1e-3,
                             weight_decay=0.05, warmup=1, log_every=1,
                             log=lambda msg: None, weights=weights, dense=dense)
    first, last = history[0]['cosines'], history[-1]['cosines']
    assert first['left/right'] > 0.9 and last['left/right'] < 0.6, history
    empty = dict(stream[0], expressions=[[] for _ in range(8)])
    terms = cp.loss_terms(model, tokenizer, empty, weights, None, dense)
    assert terms['grounding'].item() == 0


def test_train_steps_stops_at_its_time_limit():
    model, tokenizer = _tiny_clip()
    stream = CaptionStream(seed=3, batch_size=3, twin_share=0, img_size=64)
    history = cp.train_steps(model, tokenizer, stream, steps=1000, log_every=500,
                             log=lambda msg: None, max_seconds=0.0,
                             weights=dict(contrastive=1.0, dense=0.0))
    assert [r['step'] for r in history] == [1]
