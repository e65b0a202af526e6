"""ReferringEncoderDecoder end to end with a small random-init CLIP."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from asda_test_utils import DEMO_CONFIG, ROOT
from mmengine.config import Config
from tiny_models import build_segmentor, make_sample, tiny_segmentor_cfg

TEXTS = ['red square', 'the small blue circle right of the square']


@pytest.fixture(scope='module')
def model17():
    torch.manual_seed(0)
    return build_segmentor(tiny_segmentor_cfg(img_size=64, context_length=17))


@pytest.mark.parametrize('context_length', [17, 22])
@pytest.mark.parametrize('size', [(64, 64), (64, 96), (80, 48)])
def test_output_shapes(context_length, size, model17):
    model = model17 if context_length == 17 else build_segmentor(
        tiny_segmentor_cfg(img_size=64, context_length=context_length))
    model.eval()
    h, w = size
    samples = [make_sample(t) for t in TEXTS]
    with torch.no_grad():
        logits = model(torch.randn(2, 3, h, w), samples, mode='tensor')
        feats = model.extract_feat(torch.randn(2, 3, h, w), samples)
    assert logits.shape == (2, 1, h // 2, w // 2)  # 8x the 16-px token grid
    assert feats['word_feats'].shape == (2, context_length, 64)
    assert feats['feat'].shape == (2, 64, h // 16, w // 16)


def test_predict_returns_original_size_and_afs_layers(model17):
    model17.eval()
    # a 60 x 40 image resized to 64 x 43 -> padded to 64 x 64 (bottom/right)
    raw = [torch.randint(0, 255, (3, 64, 43), dtype=torch.uint8) for _ in TEXTS]
    samples = [make_sample(t, torch.zeros(60, 40), ori_shape=(60, 40),
                           img_shape=(64, 43), scale_factor=(43 / 40, 64 / 60))
               for t in TEXTS]
    data = model17.data_preprocessor(dict(inputs=raw, data_samples=samples), False)
    assert data['inputs'].shape == (2, 3, 64, 64)
    with torch.no_grad():
        results = model17(**data, mode='predict')
    for result in results:
        assert result.pred_sem_seg.shape == (60, 40)
        assert set(result.pred_sem_seg.data.unique().tolist()) <= {0, 1}
        low, mid = result.metainfo['afs_layers']
        assert low in (2, 3) and mid in (4, 5)
    # without pad_shape / img_padding_size in the metainfo, padding_size
    # still crops correctly: the logits map to the padded input first
    samples = [make_sample(t, ori_shape=(30, 20), img_shape=(64, 43),
                           padding_size=[0, 21, 0, 0]) for t in TEXTS]
    inputs = data['inputs']
    with torch.no_grad():
        results = model17(inputs, samples, mode='predict')
        logits = model17(inputs, samples, mode='tensor')
    expected = F.interpolate(logits, size=(64, 64), mode='bilinear')[:, :, :, :43]
    expected = F.interpolate(expected, size=(30, 20), mode='bilinear')
    for i, result in enumerate(results):
        assert result.pred_sem_seg.shape == (30, 20)
        torch.testing.assert_close(result.seg_logits.data, expected[i].sigmoid())


def test_forward_tokens_matches_text_path(model17):
    model17.eval()
    img = torch.randn(2, 3, 64, 96)
    samples = [make_sample(t) for t in TEXTS]
    tokens = model17.backbone.tokenize(TEXTS)
    with torch.no_grad():
        torch.testing.assert_close(model17.forward_tokens(img, tokens),
                                   model17(img, samples, mode='tensor'))


def test_missing_text_is_a_clear_error(model17):
    with pytest.raises(KeyError, match='text'):
        model17(torch.randn(1, 3, 64, 64), [make_sample('x').__class__()],
                mode='tensor')


@pytest.mark.parametrize('selection,unused', [
    ('straight_through', set()),
    ('hard', {'neck.cls_norm', 'neck.cls_proj', 'neck.low_selector',
              'neck.mid_selector'}),
])
def test_every_parameter_gets_a_gradient(selection, unused):
    """DDP with find_unused_parameters=False needs this (except 'hard')."""
    cfg = tiny_segmentor_cfg(img_size=64)
    cfg['neck']['selection'] = selection
    model = build_segmentor(cfg).train()
    gt = np.zeros((64, 64), np.int64)
    gt[10:30, 10:30] = 1
    gt[:, 50:] = 255
    samples = [make_sample(t, gt) for t in TEXTS]
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2,
             data_samples=samples), True)
    losses = model(**data, mode='loss')
    assert {'decode.loss_focal', 'decode.loss_dice', 'decode.acc_seg'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    no_grad = {n for n, p in model.named_parameters() if p.grad is None}
    assert {'.'.join(n.split('.')[:2]) for n in no_grad} == unused


SYNTHETIC_ROWS = osp.join(ROOT, 'configs/asda/ablations/synthetic')
DEMO_MODEL = Config.fromfile(DEMO_CONFIG).model
# What a Table 2 row may change: the neck's fusion and layer groups, the
# head's branch.
ROW_KEYS = dict(neck=('fusion', 'low_layers', 'mid_layers'),
                decode_head=('branch', ))


def _row_models():
    """{'a': model config, ...} of the synthetic Table 2 row configs."""
    return {osp.basename(path)[len('table2_')]: Config.fromfile(path).model
            for path in sorted(glob.glob(osp.join(SYNTHETIC_ROWS, 'table2_*.py')))}


ROW_MODELS = _row_models()
# {'a': (neck overrides, head overrides), ...}
TABLE2 = {row: tuple({k: model[part][k] for k in keys if k in model[part]}
                     for part, keys in ROW_KEYS.items())
          for row, model in ROW_MODELS.items()}


@pytest.mark.parametrize('row', sorted(ROW_MODELS))
def test_table2_rows_change_only_the_row_keys(row):
    """Each row config is the demo model but for ROW_KEYS."""
    for part, keys in ROW_KEYS.items():
        got, demo = ROW_MODELS[row][part].to_dict(), DEMO_MODEL[part].to_dict()
        assert {k: v for k, v in got.items() if k not in keys} == \
            {k: v for k, v in demo.items() if k not in keys}


def test_table2_has_six_rows():
    assert sorted(TABLE2) == list('abcdef')


@pytest.mark.parametrize('row', sorted(TABLE2))
def test_table2_variants(row):
    """Paper Table 2 rows: every parameter trains, prediction works."""
    neck, head = TABLE2[row]
    cfg = tiny_segmentor_cfg(img_size=64)
    cfg['neck'].update(neck)
    cfg['decode_head'].update(head)
    model = build_segmentor(cfg).train()
    gt = np.zeros((64, 64), np.int64)
    gt[10:30, 10:30] = 1
    samples = [make_sample(t, gt) for t in TEXTS]
    img = [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2
    data = model.data_preprocessor(dict(inputs=img, data_samples=samples), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    samples = [make_sample(t, ori_shape=(64, 64), img_shape=(64, 64))
               for t in TEXTS]
    with torch.no_grad():
        results = model(data['inputs'], samples, mode='predict')
    assert results[0].pred_sem_seg.shape == (64, 64)
    if row == 'a':
        assert 'afs_layers' not in results[0].metainfo
    elif row == 'b':
        assert results[0].metainfo['afs_layers'] == (3, 5)


def _children(module):
    return {name for name, _ in module.named_children()}


def test_table2_module_trees_differ_as_the_paper_describes():
    """(b) = (a) + fixed low/mid layers; (c) = (b) + AFS; (d) = (c) with SFA
    instead of the concatenation; (e) = (d) + word cross-attention before
    the single-mask decoder; (f) = (d) + WCG and Nc response masks."""
    necks, heads, masks = {}, {}, {}
    for row, (neck, head) in TABLE2.items():
        cfg = tiny_segmentor_cfg(img_size=64)
        cfg['neck'].update(neck)
        cfg['decode_head'].update(head)
        model = build_segmentor(cfg)
        necks[row], heads[row] = _children(model.neck), _children(model.decode_head)
        masks[row] = model.decode_head.mask_conv.out_channels
    # (a): F_H * f_E only, no AFS, no SFA, no WCG, one output channel
    assert necks['a'] == {'text_proj', 'top_norm', 'project'}
    assert heads['a'] == {'cfs_layers', 'cfs_norm', 'decoder', 'mask_conv',
                          'loss_decode'}
    assert necks['b'] - necks['a'] == {'low_norm', 'mid_norm'}
    assert necks['a'] <= necks['b'] and heads['b'] == heads['a']
    afs = {'cls_norm', 'cls_proj', 'low_selector', 'mid_selector'}
    assert necks['c'] - necks['b'] == afs and necks['b'] <= necks['c']
    sfa = {'lateral_top', 'lateral_mid', 'up_low', 'aggregate'}
    assert necks['d'] == (necks['c'] - {'project'}) | sfa
    assert heads['c'] == heads['d'] == heads['a']
    assert necks['e'] == necks['f'] == necks['d']
    assert heads['e'] - heads['d'] == {'wcg_layer'}
    assert heads['f'] - heads['d'] == {'wcg_layer', 'coef_convs'}
    assert [masks[k] for k in 'abcde'] == [1] * 5
    assert masks['f'] == tiny_segmentor_cfg()['decode_head']['num_masks'] > 1


@pytest.mark.parametrize('with_file', [True, False])
def test_init_record_goes_to_the_log_file_not_the_console(with_file, tmp_path, capsys):
    """mmengine's per-parameter initialisation record: in the log file when
    there is one, never one INFO line per parameter on the console."""
    from mmengine.logging import MMLogger

    log_file = tmp_path / 'run.log'
    MMLogger.get_instance(f'init_record_{with_file}', log_level='INFO',
                          log_file=str(log_file) if with_file else None)
    model = build_segmentor(tiny_segmentor_cfg(img_size=64))
    capsys.readouterr()
    model.init_weights()
    console = capsys.readouterr()
    assert 'init_weights' not in console.out + console.err
    if with_file:
        record = log_file.read_text()
        assert 'Name of parameter - Initialization information' in record
        assert record.count('init_weights') >= len(list(model.parameters()))
