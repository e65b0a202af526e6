"""Every leaf config under configs/asda/ parses and builds its model.

Models are built on the ``meta`` device (no memory, no init: fast) with the
backbone's pretrained weights switched off, so nothing is downloaded; one
ViT-B/16 config is also built for real and run on a small input.
"""
import ast
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import asda  # noqa: F401  (registers the components)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs', 'asda')
LEAVES = sorted(
    p for p in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, CONFIG_DIR).split(osp.sep))


def _load(path):
    cfg = Config.fromfile(path)
    cfg.model.backbone.pretrained = None
    return cfg


def _build(cfg):
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS
    return MODELS.build(cfg.model)


def _own_custom_imports(path) -> dict:
    """The ``custom_imports`` a config file sets itself (not inherited)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and \
                [getattr(t, 'id', None) for t in node.targets] == ['custom_imports']:
            call = node.value
            assert isinstance(call, ast.Call) and call.func.id == 'dict', path
            return {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return {}


ALL_LEAVES = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, ROOT).split(osp.sep))


@pytest.mark.parametrize('path', ALL_LEAVES,
                         ids=[osp.relpath(p, ROOT) for p in ALL_LEAVES])
def test_every_leaf_config_imports_asda_strictly(path):
    """Each leaf config sets custom_imports itself, with asda first and
    allow_failed_imports=False: a broken install fails at the import with
    its traceback, not later as an unknown type (docs/design.md)."""
    own = _own_custom_imports(path)
    assert own.get('imports', [None])[0] == 'asda', (path, own)
    assert own.get('allow_failed_imports') is False, (path, own)
    assert Config.fromfile(path).custom_imports == own


# Expressions name colours: a training hue shift may not turn red into orange
# (OpenCV hue units: 180 per turn, so 5 = +-10 degrees).
MAX_HUE_DELTA = 5


@pytest.mark.parametrize('path', LEAVES,
                         ids=[osp.relpath(p, CONFIG_DIR) for p in LEAVES])
def test_colour_augmentation_keeps_colour_words_true(path):
    cfg = Config.fromfile(path)
    pipeline = cfg.train_dataloader.dataset.pipeline
    hues = [t.get('hue_delta', 18) for t in pipeline
            if t['type'] == 'PhotoMetricDistortion']
    assert hues, 'no photometric distortion in the training pipeline'
    assert all(h <= MAX_HUE_DELTA for h in hues), (path, hues)


@pytest.mark.parametrize('path', LEAVES,
                         ids=[osp.relpath(p, CONFIG_DIR) for p in LEAVES])
def test_pipelines_resize_any_image_size(path):
    """mmseg's Resize gives a side of 0 on thin images: ours never does."""
    cfg = Config.fromfile(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        types = [t['type'] for t in cfg[loader].dataset.pipeline]
        assert 'ReferringResize' in types and 'Resize' not in types, \
            (loader, types)


def test_configs_found():
    names = {osp.relpath(p, CONFIG_DIR) for p in LEAVES}
    for name in ('asda_vitb_refcoco.py', 'asda_vitb_refcoco+.py',
                 'asda_vitb_refcocog-umd.py', 'asda_vitb_refcocog-google.py'):
        assert name in names


# ASDA models; configs/asda/examples/ mix parts into other models and are
# built and trained by tests/test_example_configs.py
ASDA_LEAVES = [p for p in LEAVES if osp.join('asda', 'examples') not in p]


@pytest.mark.parametrize('path', ASDA_LEAVES,
                         ids=[osp.relpath(p, CONFIG_DIR) for p in ASDA_LEAVES])
def test_config_builds(path):
    cfg = _load(path)
    assert cfg.custom_imports['imports'] == ['asda']
    assert cfg.default_scope == 'mmseg'
    with torch.device('meta'):
        model = _build(cfg)
    backbone, neck = model.backbone, model.neck
    wanted = set(neck.low_layers) | set(neck.mid_layers) | {neck.top_layer}
    assert wanted <= set(backbone.out_indices)
    name = osp.basename(path)
    assert backbone.context_length == (22 if 'refcocog' in name else 17)
    if neck.selection == 'hard':
        assert cfg.model_wrapper_cfg.find_unused_parameters is True
    size = tuple(cfg.model.data_preprocessor.size)
    assert size == tuple(backbone.img_size)


def test_main_config_runs():
    cfg = _load(osp.join(CONFIG_DIR, 'asda_vitb_refcoco.py'))
    model = _build(cfg).eval()
    assert model.backbone.visual.transformer.resblocks[0].mlp.gelu.__class__.__name__ \
        == 'QuickGELU'  # the 'openai' tag's activation
    tokens = model.backbone.tokenize(['the man on the left'])
    with torch.no_grad():
        logits = model.forward_tokens(torch.randn(1, 3, 64, 80), tokens)
    assert logits.shape == (1, 1, 32, 40)
