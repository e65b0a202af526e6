"""tools/deployment/pytorch2onnx.py: exported at batch 1, matches PyTorch at
batch sizes 1, 2 and 3 within float32 rounding of the logits' magnitude."""
import sys

import onnx
import onnxruntime as ort
import pytest
import torch
from asda_test_utils import (
    Terminal,
    assert_close_to_rounding,
    load_tool,
    save_random_checkpoint,
    write_config,
)


@pytest.fixture(scope='module')
def exported(tool_dataset, tmp_path_factory):
    work = tmp_path_factory.mktemp('onnx')
    cfg = write_config(work / 'cfg.py', tool_dataset)
    ckpt = work / 'model.pth'
    model = save_random_checkpoint(ckpt, cfg, seed=3)
    tool = load_tool('tools/deployment/pytorch2onnx.py', 'asda_pytorch2onnx')
    out = work / 'model.onnx'
    terminal, stderr = Terminal(), sys.stderr  # the check's progress bar
    sys.stderr = terminal
    try:
        diffs = tool.main([cfg, str(ckpt), '--out', str(out), '--shape', '224',
                           '224'])
    finally:
        sys.stderr = stderr
    return model, str(out), diffs, terminal.getvalue()


def test_tool_verifies_batches(exported, capsys):
    _, _, diffs, progress = exported
    assert sorted(diffs) == [1, 2, 3]
    assert max(diffs.values()) <= 1e-4
    assert progress.startswith('onnxruntime vs PyTorch at batch sizes 1, 2, 3\n')
    assert '3/3' in progress


def test_onnx_matches_pytorch_at_batches_1_2_3(exported):
    model, path, *_ = exported
    onnx_model = onnx.load(path)
    onnx.checker.check_model(onnx_model)
    meta = {p.key: p.value for p in onnx_model.metadata_props}
    assert meta['input_shape'] == '224x224'
    assert meta['context_length'] == str(model.backbone.context_length)
    batch_dims = [i.type.tensor_type.shape.dim[0] for i in onnx_model.graph.input]
    assert all(d.dim_param for d in batch_dims)  # dynamic batch axis

    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    texts = ['the red circle on the left', 'big blue square',
             'the smallest green triangle at the bottom']
    gen = torch.Generator().manual_seed(11)
    for batch in (1, 2, 3):
        img = torch.randn(batch, 3, 224, 224, generator=gen)
        tokens = model.backbone.tokenize(texts[:batch])
        with torch.no_grad():
            expected = model.forward_tokens(img, tokens).numpy()
        got, = session.run(None, dict(img=img.numpy(), tokens=tokens.numpy()))
        assert got.shape == expected.shape == (batch, 1, 112, 112)
        assert_close_to_rounding(got, expected, what=f'batch {batch}')
    # per-sample results do not depend on the batch they are in
    img = torch.randn(3, 3, 224, 224, generator=gen)
    tokens = model.backbone.tokenize(texts)
    all3, = session.run(None, dict(img=img.numpy(), tokens=tokens.numpy()))
    one, = session.run(None, dict(img=img[1:2].numpy(),
                                  tokens=tokens[1:2].numpy()))
    assert_close_to_rounding(all3[1:2], one, what='batch 3 vs 1')


@pytest.mark.gpu
def test_export_of_a_cuda_model_matches(tool_dataset, tmp_path, monkeypatch):
    cfg = write_config(tmp_path / 'cfg.py', tool_dataset)
    ckpt = tmp_path / 'model.pth'
    model = save_random_checkpoint(ckpt, cfg, seed=3)  # on the CPU
    tool = load_tool('tools/deployment/pytorch2onnx.py', 'asda_pytorch2onnx')
    out = tmp_path / 'model.onnx'
    # full float32 on the GPU: no TF32 convolutions
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)
    diffs = tool.main([cfg, str(ckpt), '--out', str(out), '--shape', '224',
                       '224', '--device', 'cuda', '--rtol', '1e-3'])
    assert sorted(diffs) == [1, 2, 3] and max(diffs.values()) <= 1e-3
    # the file traced on the GPU is the same model as the CPU one
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    img = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    tokens = model.backbone.tokenize(['the red circle', 'big blue square'])
    with torch.no_grad():
        expected = model.forward_tokens(img, tokens).numpy()
    got, = session.run(None, dict(img=img.numpy(), tokens=tokens.numpy()))
    assert_close_to_rounding(got, expected, what='traced on the GPU')
