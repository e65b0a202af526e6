"""configs/asda/examples/: each config builds and trains one step (tiny
widths and the synthetic dataset in place of CLIP and RefCOCO)."""
import os.path as osp

import torch
from asda_test_utils import ROOT
from mmengine.config import Config

from asda.engine import ASDARunner

EXAMPLES = osp.join(ROOT, 'configs', 'asda', 'examples')


def _tiny_clip(layers: int, patch: int, img_size: int) -> dict:
    return dict(
        embed_dim=32,
        vision_cfg=dict(image_size=img_size, layers=layers, width=64,
                        head_width=32, patch_size=patch),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                      layers=2))


def _on_synthetic(cfg: Config, root: str, work_dir: str) -> Config:
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(batch_size=2 if name == 'train_dataloader' else 1,
                      num_workers=0, persistent_workers=False)
        loader.dataset.update(data_root=root, ann_file='refcoco/instances.json',
                              split_file='refcoco/refs(unc).p',
                              data_prefix=dict(img_path='images/'))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=100)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook', by_epoch=False,
                                        interval=1, save_best=None)
    cfg.log_processor = dict(by_epoch=False)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    return cfg


def _train_one_step(cfg: Config) -> ASDARunner:
    runner = ASDARunner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    assert runner.iter == 1
    changed = [k for k, v in runner.model.state_dict().items()
               if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert changed, 'one training step changed no weight'
    return runner


def test_asda_neck_with_stock_fcn_head(small_dataset, tmp_path):
    cfg = Config.fromfile(osp.join(EXAMPLES, 'asda-neck_fcn-head_refcoco.py'))
    assert cfg.model.decode_head.type == 'FCNHead'
    assert cfg.model.neck.type == 'ReferringFeatureAdapter'
    assert cfg.model.neck.neck.type == 'AFSF'
    backbone = cfg.model.backbone
    backbone.update(model_cfg=_tiny_clip(12, 16, 416), pretrained=None)
    cfg.model.neck.neck.update(in_channels=64, text_channels=32, d_model=32)
    cfg.model.decode_head.update(in_channels=32, channels=16)
    cfg = _on_synthetic(cfg, small_dataset, str(tmp_path / 'fcn'))
    runner = _train_one_step(cfg)
    head = runner.model.decode_head
    assert type(head).__name__ == 'FCNHead'
    assert any(k.startswith('decode_head.convs') for k in runner.model.state_dict())
    metrics = runner.test()
    assert 0 <= metrics['oIoU'] <= 100


def test_asda_on_vit_l14_layout(small_dataset, tmp_path):
    cfg = Config.fromfile(osp.join(EXAMPLES, 'asda_vitl14-448_refcoco.py'))
    backbone = cfg.model.backbone
    assert backbone.model_name == 'ViT-L-14' and backbone.img_size == 448
    assert 448 % 14 == 0
    neck = cfg.model.neck
    assert (neck.low_layers, neck.mid_layers, neck.top_layer) == (
        (8, 10, 12), (14, 16, 18), 24)
    # tiny width, the same 24-layer / patch-14 / 448 layout
    backbone.update(model_cfg=_tiny_clip(24, 14, 448), pretrained=None)
    neck.update(in_channels=64, text_channels=32, d_model=32)
    cfg.model.decode_head.update(in_channels=32, text_channels=32, num_heads=2,
                                 decoder_channels=(16, 16, 16), coef_channels=16)
    cfg = _on_synthetic(cfg, small_dataset, str(tmp_path / 'vitl'))
    runner = _train_one_step(cfg)
    blocks = runner.model.backbone.visual.transformer.resblocks
    assert len(blocks) == 24
    data = runner.train_dataloader.dataset[0]
    assert max(data['inputs'].shape[1:]) == 448


def test_own_segmentor_with_asda_data_and_metric(small_dataset, tmp_path):
    cfg = Config.fromfile(osp.join(EXAMPLES, 'own-segmentor_refcoco.py'))
    assert cfg.model.type == 'FiLMReferringSegmentor'
    assert cfg.train_dataloader.dataset.type == 'RefCOCODataset'
    assert cfg.test_evaluator.type == 'RISMetric'
    cfg = _on_synthetic(cfg, small_dataset, str(tmp_path / 'own'))
    runner = _train_one_step(cfg)
    assert type(runner.model).__module__ == 'asda.examples.film_segmentor'
    metrics = runner.test()
    assert set(metrics) >= {'oIoU', 'mIoU', 'Pr@0.5'}
