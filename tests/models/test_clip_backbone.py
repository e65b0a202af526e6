"""CLIPBackbone: equivalence with open_clip, pretrained loading, tokenizer."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from asda_test_utils import assert_close_to_rounding
from open_clip.model import CLIP
from tiny_models import tiny_clip_cfg

from asda.models.backbones import CLIPBackbone
from asda.models.backbones.tokenizer import CLIPTokenizer

TEXTS = ['red square', 'the blue circle on the left of the big green thing']


def _open_clip(image_size=64, context_length=17):
    cfg = tiny_clip_cfg()
    cfg['vision_cfg']['image_size'] = image_size
    cfg['text_cfg']['context_length'] = context_length
    return CLIP(**cfg).eval()


def _backbone(path=None, img_size=64, context_length=17, **kwargs):
    kwargs.setdefault('out_indices', (2, 3, 4, 5, 6))
    return CLIPBackbone(model_cfg=tiny_clip_cfg(), pretrained=path,
                        img_size=img_size, context_length=context_length,
                        **kwargs)


def test_same_weights_match_open_clip(tmp_path):
    clip = _open_clip()
    path = tmp_path / 'clip.pt'
    torch.save(clip.state_dict(), path)
    backbone = _backbone(str(path)).eval()
    backbone.init_weights()

    img = torch.randn(2, 3, 64, 64)
    tokens = backbone.tokenize(TEXTS)
    with torch.no_grad():
        out = backbone(img, TEXTS)
        ref_sent = clip.encode_text(tokens, normalize=False)
        ref = clip.forward_intermediates(
            image=img, image_indices=[1, 2, 3, 4, 5],
            intermediates_only=True, image_output_extra_tokens=True)
    # f_E: open_clip projects the EOT token alone, we project every token
    # (f_T) and pick it: other matrix shapes, another summation order
    assert_close_to_rounding(out['sent_feat'], ref_sent, what='f_E')
    # every requested layer, last one included: tokens and class tokens
    assert len(out['visual_feats']) == len(ref['image_intermediates']) == 5
    for ours, theirs in zip(out['visual_feats'], ref['image_intermediates']):
        assert_close_to_rounding(ours, theirs, what='visual tokens')
    for ours, theirs in zip(out['cls_tokens'], ref['image_intermediates_prefix']):
        assert_close_to_rounding(ours, theirs[:, 0], what='class tokens')
    assert out['layers'] == (2, 3, 4, 5, 6)
    # f_T is every token after ln_final + projection; f_E is its EOT entry
    eot = tokens.argmax(-1)
    torch.testing.assert_close(out['word_feats'][torch.arange(2), eot],
                               out['sent_feat'])
    assert out['word_feats'].shape == (2, 17, 64)
    expected_mask = torch.arange(17)[None] > eot[:, None]
    assert torch.equal(out['word_mask'], expected_mask)


def test_pretrained_resizes_and_cuts_pos_embed(tmp_path):
    clip = _open_clip(image_size=224, context_length=77)  # 14 x 14 grid
    path = tmp_path / 'open_clip_checkpoint.pth'
    torch.save({'state_dict': {'module.' + k: v
                               for k, v in clip.state_dict().items()}}, path)
    backbone = _backbone(str(path), img_size=(64, 96), context_length=22)
    before = backbone.visual.conv1.weight.clone()
    backbone.init_weights()

    torch.testing.assert_close(backbone.visual.conv1.weight,
                               clip.visual.conv1.weight)
    assert not torch.equal(before, backbone.visual.conv1.weight)
    torch.testing.assert_close(backbone.text.token_embedding.weight,
                               clip.token_embedding.weight)
    torch.testing.assert_close(backbone.text.transformer.resblocks[3].mlp.c_fc.weight,
                               clip.transformer.resblocks[3].mlp.c_fc.weight)
    # text positions: the first 22 of 77, not interpolated
    torch.testing.assert_close(backbone.text.positional_embedding,
                               clip.positional_embedding[:22])
    assert backbone.text.attn_mask.shape == (22, 22)
    # visual positions: class position kept, 14 x 14 grid resized to 4 x 6
    pos = clip.visual.positional_embedding.detach()
    grid = pos[1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(4, 6), mode='bicubic', antialias=True,
                         align_corners=False)
    expected = torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(24, -1)])
    torch.testing.assert_close(backbone.visual.positional_embedding, expected)


def test_missing_checkpoint_names_the_path(tmp_path):
    missing = tmp_path / 'nowhere' / 'ViT-B-16.pt'
    backbone = _backbone(str(missing))  # nothing is read at build time
    with pytest.raises(FileNotFoundError, match='nowhere/ViT-B-16.pt'):
        backbone.init_weights()


def test_only_used_parts_are_registered():
    backbone = _backbone(out_indices=(2, 4))
    names = [n for n, _ in backbone.named_parameters()]
    assert not any('logit_scale' in n or 'ln_post' in n for n in names)
    assert 'visual.proj' not in names
    # blocks past the deepest output layer are dropped
    assert len(backbone.visual.transformer.resblocks) == 4
    out = backbone(torch.randn(2, 3, 32, 48), ['a', 'b'])
    loss = sum(f.sum() for f in out['visual_feats']) + out['word_feats'].sum()
    loss.backward()
    assert all(p.grad is not None for p in backbone.parameters())


def test_non_square_input_and_token_input():
    backbone = _backbone(img_size=64).eval()
    tokens = backbone.tokenize(TEXTS)
    with torch.no_grad():
        out = backbone(torch.randn(2, 3, 48, 80), tokens)
        out2 = backbone(torch.randn(2, 3, 48, 80), TEXTS)
    assert out['visual_feats'][-1].shape == (2, 128, 3, 5)
    torch.testing.assert_close(out['sent_feat'], out2['sent_feat'])
    with pytest.raises(ValueError, match='divisible'):
        backbone(torch.randn(2, 3, 50, 64), TEXTS)


def test_freezing_options():
    backbone = _backbone(frozen_stages=2, freeze_text=True)
    v = backbone.visual
    assert not v.conv1.weight.requires_grad
    assert not v.positional_embedding.requires_grad
    assert not any(p.requires_grad for p in v.transformer.resblocks[1].parameters())
    assert all(p.requires_grad for p in v.transformer.resblocks[2].parameters())
    assert not any(p.requires_grad for p in backbone.text.parameters())
    backbone.train()
    assert not backbone.text.training and backbone.visual.transformer.resblocks[2].training
    frozen = _backbone(freeze_visual=True)
    assert not any(p.requires_grad for p in frozen.visual.parameters())


def test_tokenizer_truncation_keeps_eot():
    tok = CLIPTokenizer(context_length=6)
    with pytest.warns(UserWarning, match='truncated'):
        ids = tok(['one two three four five six seven'])
    assert ids.shape == (1, 6)
    assert ids[0, 0] == tok.sot_token_id and ids[0, -1] == tok.eot_token_id
    short = tok(['cat'])
    assert short[0, 2] == tok.eot_token_id and short[0, 3:].eq(0).all()


def test_tokenizer_encode_says_what_it_cut():
    """encode: the ids __call__ gives, the token count before the cut and
    whether it cut, without a warning (its caller reports)."""
    tok = CLIPTokenizer(context_length=6)
    long_text = 'one two three four five six seven'
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        encoding = tok.encode(long_text)
        short = tok.encode('cat')
    assert encoding.truncated and encoding.num_tokens == 9
    assert not short.truncated and short.num_tokens == 3
    with pytest.warns(UserWarning, match='truncated'):
        ids = tok([long_text, 'cat'])
    assert torch.equal(ids, torch.stack([encoding.ids, short.ids]))


@pytest.mark.parametrize('texts, error, match', [
    (['cat', None], TypeError, 'expression 1 must be a str, got NoneType: None'),
    (['', 'cat'], ValueError, "expression 0 is empty: ''"),
    # no printable word once normalised (each tokenised to no token at all)
    (['cat', '\x00\x07'], ValueError, r"expression 1 has no printable word: '\\x00\\x07'"),
    (['\ufeff'], ValueError, r"expression 0 has no printable word: '\\ufeff'"),
    (['\x1b[31m\x1b[0m'], ValueError, r"expression 0 has no printable word: "
     r"'\\x1b\[31m\\x1b\[0m'"),
    (['&amp;nbsp;'], ValueError, 'expression 0 has no printable word'),
    # stand-ins for missing content: an editor's object replacement, a failed decoding
    (['\ufffc'], ValueError, r"expression 0 has no printable word: '\ufffc'"),
    (['cat', ' \ufffd\ufffd '], ValueError, "expression 1 has no printable word"),
])
def test_tokenizer_refuses_what_the_inferencer_refuses(texts, error, match):
    """One rule for an expression's text (tokenizer.check_text): the
    tokenizer, the inferencer and the datasets' refs check ask it."""
    with pytest.raises(error, match=match):
        CLIPTokenizer(context_length=6)(texts)


def test_a_stand_in_beside_a_word_is_text():
    """U+FFFD beside a word (a stray failed decoding) leaves a word to read."""
    ids = CLIPTokenizer(context_length=8)(['red \ufffd circle'])
    assert ids.shape == (1, 8)
