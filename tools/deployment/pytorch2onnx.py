"""Export a referring segmentor to ONNX: (image, tokens) -> mask logits.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT \
        --out model.onnx [--shape H W] [--opset 17] [--no-verify]
        [--device cpu|cuda]

The graph is the model's ``forward_tokens``:

* input ``img``: (B, 3, H, W) float32, the **normalised RGB** image as the
  data preprocessor makes it ((x - mean) / std after the keep-ratio resize
  and the padding to H x W; mean, std, the threshold and the context length
  are stored in the ONNX metadata);
* input ``tokens``: (B, L) int64 CLIP BPE ids (``model.backbone.tokenize``,
  L = the config's context length);
* output ``logits``: (B, 1, h, w) mask logits (sigmoid > threshold is the
  mask; h x w is the head's output size, 8x the token grid, so H/2 x W/2
  for patch 16): crop the padding and resize to the image yourself.

The batch axis is dynamic; H and W are fixed by ``--shape`` (default: the
data preprocessor's test size). After the export the file is checked with
``onnx.checker`` and, unless ``--no-verify``, run with onnxruntime on random
images and sample expressions at batch sizes ``--verify-batches`` (default
1 2 3) against PyTorch; the max abs difference of the logits, relative to
the largest |logit| of PyTorch's output (or 1 when every |logit| is
smaller), is printed and the tool fails if it exceeds ``--rtol``: a logit is
a sum of terms of both signs whose rounding follows the map's magnitude, so
an absolute bound would pass a small model and fail a large one. ``--device cuda`` traces the model
on the GPU (and compares onnxruntime's CPU result with the GPU's).

Uses torch's TorchScript-based exporter (``dynamo=False``): it needs only
the ``onnx`` package (and ``onnxruntime`` for the check), whereas torch >=
2.9's default dynamo exporter also needs ``onnxscript``.
"""
import argparse
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import DictAction

from asda.apis import init_model
from asda.utils.arg_types import output_file, positive_int
from asda.utils.progress import track
from asda.utils.tracing import TokensForward

SAMPLE_EXPRESSIONS = (
    'the red circle on the left', 'big blue square', 'green triangle',
    'the smallest yellow shape at the bottom right', 'man in white shirt')


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(
        description='Export a referring segmentor to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', type=output_file, default='model.onnx',
                        help='ONNX file')
    parser.add_argument('--shape', type=positive_int, nargs=2,
                        metavar=('H', 'W'),
                        help='input height and width (multiples of the '
                        'patch size); default: the test padding size')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime comparison')
    parser.add_argument('--verify-batches', type=positive_int, nargs='+',
                        default=[1, 2, 3], help='batch sizes to compare')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='max abs logit difference allowed, relative to '
                        'the largest |logit| (or 1 when all are smaller)')
    parser.add_argument('--device', default='cpu',
                        help='where the model is traced, e.g. cpu, cuda')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value')
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def default_shape(model) -> Tuple[int, int]:
    pre = model.data_preprocessor
    test_cfg = getattr(pre, 'test_cfg', None) or {}
    size = test_cfg.get('size') or getattr(pre, 'size', None)
    if size is None:
        size = getattr(model.backbone, 'img_size', None)
    if size is None:
        raise ValueError('cannot tell the input size: pass --shape H W')
    if isinstance(size, int):
        size = (size, size)
    return int(size[0]), int(size[1])


def sample_inputs(model, batch: int, shape: Sequence[int],
                  seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Random normalised images and tokens of sample expressions, on the
    model's device."""
    gen = torch.Generator().manual_seed(seed + batch)
    img = torch.randn(batch, 3, *shape, generator=gen)
    texts = [SAMPLE_EXPRESSIONS[i % len(SAMPLE_EXPRESSIONS)]
             for i in range(batch)]
    device = next(model.parameters()).device
    return img.to(device), model.backbone.tokenize(texts).to(device)


def _metadata(model, shape) -> Dict[str, str]:
    pre = model.data_preprocessor
    meta = dict(
        input_shape=f'{shape[0]}x{shape[1]}',
        mean=','.join(f'{v:.6g}' for v in pre.mean.flatten().tolist())
        if getattr(pre, 'mean', None) is not None else '',
        std=','.join(f'{v:.6g}' for v in pre.std.flatten().tolist())
        if getattr(pre, 'std', None) is not None else '',
        input_channel_order='rgb',
        threshold=str(float(getattr(model.decode_head, 'threshold', 0.5))),
        context_length=str(getattr(model.backbone, 'context_length', '')),
        output='mask logits (B, 1, h, w); sigmoid > threshold = mask')
    return meta


def export(model, out: str, shape: Sequence[int], opset: int = 17) -> str:
    """Trace ``forward_tokens`` at batch 1 with a dynamic batch axis."""
    wrapper = TokensForward(model).eval()
    img, tokens = sample_inputs(model, 1, shape)
    os.makedirs(osp.dirname(osp.abspath(out)) or '.', exist_ok=True)
    kwargs = dict(
        input_names=['img', 'tokens'],
        output_names=['logits'],
        opset_version=opset)
    # Not under no_grad: nn.MultiheadAttention's inference fast path
    # (aten::_native_multi_head_attention) has no ONNX symbolic; it is taken
    # only when autograd is off.
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        # AFS indexes with argmax / arange: never negative
        warnings.filterwarnings('ignore', message='Exporting aten::index')
        torch.onnx.export(
            wrapper, (img, tokens), out, dynamo=False,
            do_constant_folding=True,
            dynamic_axes={'img': {0: 'batch'}, 'tokens': {0: 'batch'},
                          'logits': {0: 'batch'}}, **kwargs)
    import onnx
    onnx_model = onnx.load(out)
    onnx.checker.check_model(onnx_model)
    for key, value in _metadata(model, shape).items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(onnx_model, out)
    return out


def verify(model, onnx_file: str, shape: Sequence[int],
           batches: Sequence[int] = (1, 2, 3)) -> Dict[int, float]:
    """Max abs logit difference, onnxruntime vs PyTorch, relative to the
    largest |logit| of PyTorch's output (at least 1), per batch size."""
    import onnxruntime as ort
    session = ort.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    diffs = {}
    for batch in track(batches, f'onnxruntime vs PyTorch at batch sizes '
                       f'{", ".join(map(str, batches))}'):
        img, tokens = sample_inputs(model, batch, shape)
        with torch.no_grad():
            expected = model.forward_tokens(img, tokens).cpu().numpy()
        got, = session.run(['logits'], dict(img=img.cpu().numpy(),
                                            tokens=tokens.cpu().numpy()))
        if got.shape != expected.shape:
            raise RuntimeError(f'batch {batch}: ONNX output {got.shape}, '
                               f'PyTorch {expected.shape}')
        scale = max(1.0, float(np.abs(expected).max()))
        diffs[batch] = float(np.abs(got - expected).max()) / scale
    return diffs


def main(argv=None) -> Optional[Dict[int, float]]:
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    shape = tuple(args.shape) if args.shape else default_shape(model)
    patch = getattr(model.backbone, 'patch_size', (1, 1))
    if shape[0] % patch[0] or shape[1] % patch[1]:
        raise SystemExit(f'--shape {shape} must be a multiple of the patch '
                         f'size {tuple(patch)}')
    export(model, args.out, shape, opset=args.opset)
    print(f'exported {args.out} (input {shape[0]}x{shape[1]}, dynamic batch, '
          f'opset {args.opset})')
    if args.no_verify:
        return None
    diffs = verify(model, args.out, shape, args.verify_batches)
    bad: List[int] = []
    for batch, diff in diffs.items():
        ok = diff <= args.rtol
        print(f'batch {batch}: max abs diff onnxruntime vs PyTorch, relative '
              f'to the largest |logit|: {diff:.3e} '
              f'({"ok" if ok else "FAIL"}, rtol {args.rtol:g})')
        if not ok:
            bad.append(batch)
    if bad:
        raise SystemExit(f'ONNX output differs from PyTorch by more than '
                         f'--rtol {args.rtol:g} at batch sizes {bad}')
    return diffs


if __name__ == '__main__':
    main()
