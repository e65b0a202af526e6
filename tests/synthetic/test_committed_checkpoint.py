"""The committed stage-one checkpoint (checkpoints/tiny_clip_synthetic.pt):
the demo configs load it, it sees shape, its text tower keeps position and
size words apart, and its provenance is the reference that ``make pretrain
--compare`` reproduces with the tool's default recipe."""
import json
import os.path as osp

import pytest
import torch
from asda_test_utils import ROOT, load_tool
from mmengine.config import Config

from asda.models.backbones.clip_weights import (
    convert_clip_state_dict,
    read_clip_state_dict,
)
from asda.synthetic.clip_pretrain import build_pretrain_clip, read_reference
from asda.synthetic.probes import (
    RELATION_PAIRS,
    build_backbone,
    probe_layers,
    run_probe,
    text_cosines,
)

CHECKPOINT = osp.join(ROOT, 'checkpoints', 'tiny_clip_synthetic.pt')
PROVENANCE = osp.join(ROOT, 'checkpoints', 'tiny_clip_synthetic.json')
CONFIGS = ('configs/asda/asda_tiny_synthetic.py',
           'configs/asda/asda_tiny_synthetic_gres.py')
# the bar: the top layer and one or more layers AFS can choose
PROBE_TARGET = 80.0


@pytest.mark.parametrize('config', CONFIGS)
def test_demo_configs_load_the_committed_checkpoint(config):
    """Each demo config names the committed file (relative to the config
    file, so from any directory), and its backbone then holds the file's
    weights: every tensor of the backbone is the file's."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    assert osp.normpath(cfg.model.backbone.pretrained) == CHECKPOINT
    backbone = build_backbone(cfg, pretrained=CHECKPOINT)
    state = convert_clip_state_dict(
        read_clip_state_dict(CHECKPOINT),
        num_blocks=len(backbone.visual.transformer.resblocks),
        grid_size=backbone.grid_size, context_length=backbone.context_length)
    loaded = backbone.state_dict()
    assert set(state) == set(loaded)
    for name, tensor in state.items():
        assert torch.equal(loaded[name], tensor.to(loaded[name].dtype)), name


def test_committed_checkpoint_sees_shape():
    """The shape probe (a smaller draw than the tool's 300 / 150 scenes) on
    the committed weights: >= 80% at the top layer and at a layer AFS can
    choose, where the same backbone untrained stays far below."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[0]))
    trained = run_probe(cfg, pretrained=CHECKPOINT, train_scenes=80,
                        test_scenes=40)
    cfg.model.backbone.pretrained = None
    untrained = run_probe(cfg, train_scenes=80, test_scenes=40)
    top = max(trained)
    assert trained[top]['group'] == 'top'
    assert trained[top]['accuracy'] >= PROBE_TARGET, trained
    assert any(v['accuracy'] >= PROBE_TARGET for v in trained.values()
               if v['group'] != 'top'), trained
    assert untrained[top]['accuracy'] < PROBE_TARGET - 20, untrained


def test_committed_text_tower_keeps_position_and_size_words_apart():
    """The sentence embeddings of "the circle on the left" / "...right",
    "the left circle" / "the right circle", "...at the top" / "...at the
    bottom" and "the smallest object" / "the largest object" have cosines
    <= 0.8 (a tower that ignores a word gives 1.000), as the provenance
    records; colour and shape words stay apart too."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[0]))
    model, tokenizer = build_pretrain_clip(cfg.model.backbone)
    state = read_clip_state_dict(CHECKPOINT)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.eval()
    cosines = text_cosines(lambda texts: model.encode_text(tokenizer(texts)))
    assert all(cosines[pair] <= 0.8 for pair in RELATION_PAIRS), cosines
    assert cosines['red/blue'] <= 0.8 and cosines['circle/square'] <= 0.9, cosines
    with open(PROVENANCE, encoding='utf-8') as f:
        recorded = json.load(f)['zero_shot']['text_cosines']
    assert recorded == pytest.approx(cosines, abs=2e-3)


def test_provenance_is_the_reference_of_the_default_recipe():
    """``make pretrain --compare checkpoints/tiny_clip_synthetic.json``
    reruns what made the checkpoint: the provenance is a valid reference
    for the config, and every recipe setting it records is the tool's
    default."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[0]))
    reference = read_reference(PROVENANCE, cfg)
    assert set(reference['zero_shot']['shape_probe']) == \
        {str(layer) for layer in probe_layers(cfg)}
    tool = load_tool('tools/pretrain_tiny_clip.py', 'asda_pretrain_tiny_clip')
    defaults = vars(tool.parse_args([]))
    recipe = ('steps', 'batch_size', 'lr', 'weight_decay', 'warmup',
              'twin_share', 'contrastive_weight', 'dense_weight', 'grounding_weight',
              'expressions_per_image', 'dense_layer',
              'seed', 'heldout', 'heldout_seed', 'probe_seed', 'probe_scenes')
    # the defaults as the provenance records them (JSON: tuples become lists)
    expected = json.loads(json.dumps({k: defaults[k] for k in recipe}))
    assert {k: reference['args'][k] for k in recipe} == expected
    assert reference['steps_done'] == reference['steps']
    assert reference['checkpoint_bytes'] == osp.getsize(CHECKPOINT)
