"""Speed, memory and FLOPs of a referring segmentor beside its bare CLIP encoders.

    python tools/analysis_tools/benchmark.py CONFIG [--device cpu|cuda]
        [--batch-size N [N ...]] [--amp] [--compile] [--channels-last]
        [--repeat R] [--train-repeat R] [--warmup W] [--threads T] [--out FILE]
        [--no-half]

In one process, on the same random input (B images of the backbone's
``img_size``, B expressions tokenised to the configured context length), the
same threads, dtype and options, this times

* **full**: the segmentor from token ids to mask logits
  (``forward_tokens``: CLIP image + text towers, neck, head; no data
  pre-processing, tokenisation or resizing of the logits to the image);
* **bare**: open_clip's ``CLIP`` of the same architecture (the backbone's
  open_clip config: same image size, context length, activation), un-pruned
  and random-initialised, running ``encode_image(img)`` and
  ``encode_text(tokens)`` on the same tensors. At a context length of 17 its
  text tower is built for 17 positions, as ``open_clip.create_model(name,
  force_image_size=416, force_context_length=17, force_quick_gelu=True)``
  builds it.

For each batch size and each of the two:

* inference latency (``torch.inference_mode``, eval mode): median over
  ``--repeat`` runs after ``--warmup`` runs, and throughput = B / median;
* half-precision inference (unless ``--amp``, which makes all of it half,
  or ``--no-half``): the same inference under ``torch.autocast`` in float16
  on CUDA, bfloat16 on a CPU (as ``RISInferencer(dtype=...)`` runs),
  reported beside fp32 with its speed-up;
* one training step (train mode, forward, loss, backward, optimizer step
  with the config's optimizer type; full: the head's focal + dice loss on a
  random mask; bare: minus the mean cosine similarity of the image and text
  embeddings): median over ``--train-repeat`` steps;
* peak memory of one inference and one training step. CUDA:
  ``torch.cuda.max_memory_allocated``. CPU: the tensors held when the step
  starts (parameters, buffers, gradients, optimizer state, inputs) plus the
  highest rise of live tensor bytes during the step, from the allocation
  events of ``torch.profiler`` (``profile_memory=True``): the memory PyTorch's
  CPU allocator hands out, the CPU counterpart of ``max_memory_allocated``
  (scratch memory oneDNN allocates by itself is not seen).

The full and the bare model run alternately within each repetition, so a
change of machine load hits both. FLOPs and parameters come from
``asda.utils.flops`` (mmengine's FlopAnalyzer with fused-attention handles;
one multiply-add = one FLOP) for one image. Prints a table and writes JSON
(``--out``, default ``work_dirs/benchmark/<config name>.json``). Nothing is
downloaded: the backbone is random-initialised (``pretrained=None``).
"""
import argparse
import copy
import os

os.environ.setdefault('KINETO_LOG_LEVEL', '5')  # quiet torch.profiler
import os.path as osp
import statistics
import time
from contextlib import nullcontext
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import DictAction
from mmengine.registry import init_default_scope

from asda.utils.atomic import write_json
from asda.utils.provenance import cpu_name

EXPRESSIONS = (
    'the man in the red shirt on the left',
    'white dog',
    'second giraffe from the right behind the fence',
    'blue car',
    'woman holding an umbrella',
    'the small bowl of rice near the top edge of the table',
    'left elephant',
    'guy in black jacket',
)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this tool (``--help`` shows it)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'),
                        help='where both models run (default cpu)')
    parser.add_argument('--batch-size', type=int, nargs='+', default=[1],
                        help='one or more batch sizes')
    parser.add_argument('--amp', action='store_true',
                        help='autocast: bfloat16 on CPU, float16 (with a '
                        'gradient scaler for training) on CUDA')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile both models (compilation happens '
                        'in the warm-up runs)')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last memory format for both models '
                        'and the images')
    parser.add_argument('--repeat', type=int, default=5,
                        help='timed inference runs (median)')
    parser.add_argument('--train-repeat', type=int, default=3,
                        help='timed training steps (median)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed runs before timing (each mode)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: torch\'s default)')
    parser.add_argument('--no-train', action='store_true',
                        help='inference only')
    parser.add_argument('--no-half', action='store_true',
                        help='skip the half-precision inference timing')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak memory measurements')
    parser.add_argument('--out', default=None, help='JSON file to write')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random weights and inputs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--train-variants', nargs='+', type=train_variant, default=None,
                        metavar='DTYPE[+compile][@THREADS]',
                        help="time the full model's training step (first batch size) "
                        'in each of these settings, alternately in one run, against '
                        'the first: fp32 or bf16 (autocast), +compile (torch.compile), '
                        '@N (N torch threads); e.g. fp32 bf16 fp32+compile fp32@1')
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def train_variant(text: str) -> dict:
    """``DTYPE[+compile][@THREADS]`` -> dict(name, amp, compile, threads)."""
    spec, _, threads = text.partition('@')
    dtype, _, extra = spec.partition('+')
    if dtype not in ('fp32', 'bf16') or extra not in ('', 'compile') or (
            threads and not (threads.isdigit() and int(threads) > 0)):
        raise argparse.ArgumentTypeError(
            f'{text!r}: expected fp32 or bf16, optionally +compile and @THREADS '
            f'(e.g. bf16+compile@2)')
    return dict(name=text, amp=dtype == 'bf16', compile=extra == 'compile',
                threads=int(threads) if threads else None)


# ------------------------------------------------------------------ models
class FullModel(nn.Module):
    """Token ids -> mask logits (inference) or the loss (training)."""

    def __init__(self, segmentor: nn.Module):
        super().__init__()
        self.model = segmentor

    def forward(self, img, tokens, samples=None):
        logits = self.model.forward_tokens(img, tokens)
        if samples is None:
            return logits
        losses = self.model.decode_head.loss_by_feat(logits, samples)
        return sum(v for k, v in losses.items() if 'loss' in k)


class BareEncoders(nn.Module):
    """open_clip's encode_image + encode_text (or their training loss)."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, img, tokens, samples=None):
        image = self.clip.encode_image(img)
        text = self.clip.encode_text(tokens)
        if samples is None:
            return image, text
        return -F.cosine_similarity(image.float(), text.float(), dim=-1).mean()


def build_bare_clip(backbone: nn.Module) -> nn.Module:
    """open_clip CLIP of the backbone's architecture, image size and context."""
    from open_clip.model import CLIP
    return CLIP(**copy.deepcopy(backbone.clip_cfg))


def make_inputs(segmentor, batch_size: int, device, channels_last: bool):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    backbone = segmentor.backbone
    h, w = backbone.img_size
    img = torch.randn(batch_size, 3, h, w, device=device)
    if channels_last:
        img = img.contiguous(memory_format=torch.channels_last)
    texts = [EXPRESSIONS[i % len(EXPRESSIONS)] for i in range(batch_size)]
    tokens = backbone.tokenize(texts).to(device)
    samples = []
    for text in texts:
        mask = torch.zeros(1, h, w, dtype=torch.long, device=device)
        y0, x0 = torch.randint(0, h // 2, (2, )).tolist()
        mask[:, y0:y0 + h // 3, x0:x0 + w // 3] = 1
        sample = SegDataSample(metainfo=dict(
            text=text, img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=mask)
        samples.append(sample)
    return img, tokens, samples


# ------------------------------------------------------------- model steps
def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class ModelSteps:
    """One model's inference and training step under the chosen options
    (not a runner: no loop, no hooks; both models are timed alike)."""

    def __init__(self, module, optimizer_cfg, device, amp, compile_):
        from mmengine.registry import OPTIMIZERS
        self.module = module
        self.device = device
        self.fn = torch.compile(module) if compile_ else module
        # half precision: float16 on CUDA, bfloat16 on a CPU
        self.half_dtype = torch.float16 if device.type == 'cuda' \
            else torch.bfloat16
        self.amp_dtype = self.half_dtype if amp else None
        self.scaler = torch.amp.GradScaler('cuda') \
            if amp and device.type == 'cuda' else None
        params = [p for p in module.parameters() if p.requires_grad]
        self.optimizer = OPTIMIZERS.build(
            dict(copy.deepcopy(optimizer_cfg), params=params))

    def autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def infer(self, img, tokens):
        self.module.eval()
        with torch.inference_mode(), self.autocast():
            out = self.fn(img, tokens)
        _sync(self.device)
        return out

    def infer_half(self, img, tokens):
        """Inference under autocast in ``half_dtype`` (also without --amp)."""
        self.module.eval()
        with torch.inference_mode(), torch.autocast(self.device.type,
                                                    dtype=self.half_dtype):
            out = self.fn(img, tokens)
        _sync(self.device)
        return out

    def train_step(self, img, tokens, samples):
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            loss = self.fn(img, tokens, samples)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        _sync(self.device)
        return loss.detach()


def _timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def time_pair(models, mode, args, warmup, repeat):
    """Median seconds of ``mode`` for each model, alternating per repeat."""
    for _ in range(warmup):
        for steps in models.values():
            getattr(steps, mode)(*args)
    times = {name: [] for name in models}
    names = list(models)
    for r in range(repeat):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(_timed(getattr(models[name], mode), *args))
    return times


class _Threads:
    """Run a model's steps with its own torch thread count."""

    def __init__(self, steps: 'ModelSteps', threads: Optional[int]):
        self.steps, self.threads = steps, threads

    def train_step(self, *args):
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            return self.steps.train_step(*args)
        finally:
            torch.set_num_threads(before)


def time_train_variants(full_module, optim_cfg, device, variants, train_args,
                        warmup, repeat) -> dict:
    """Median training step of a copy of ``full_module`` (the same weights)
    under each variant, timed alternately; ``speedup`` is the first
    variant's median over each one's."""
    models = {v['name']: _Threads(ModelSteps(copy.deepcopy(full_module), optim_cfg,
                                             device, v['amp'], v['compile']),
                                  v['threads'])
              for v in variants}
    times = time_pair(models, 'train_step', train_args, max(warmup, 1), repeat)
    batch_size = train_args[0].shape[0]
    out = {name: _stats(t, batch_size) for name, t in times.items()}
    first = out[variants[0]['name']]['median_ms']
    for stats in out.values():
        stats['speedup'] = first / stats['median_ms']
    return out


def _resident_bytes(steps, tensors):
    """Bytes of the tensors a step starts with (unique storages)."""
    seen, total = set(), 0
    items = list(steps.module.parameters()) + list(steps.module.buffers())
    items += [p.grad for p in steps.module.parameters() if p.grad is not None]
    for state in steps.optimizer.state.values():
        items += [v for v in state.values() if torch.is_tensor(v)]
    items += [t for t in tensors if torch.is_tensor(t)]
    for t in items:
        storage = t.untyped_storage()
        key = (storage.data_ptr(), t.device)
        if key in seen:
            continue
        seen.add(key)
        total += storage.nbytes()
    return total


def peak_memory(steps, mode, args):
    """Peak bytes held by tensors during one ``mode`` call (see the doc)."""
    device = steps.device
    tensors = args[:2]
    steps.optimizer.zero_grad(set_to_none=True)  # the step starts with it
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        getattr(steps, mode)(*args)
        return torch.cuda.max_memory_allocated(device)
    resident = _resident_bytes(steps, tensors)
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        getattr(steps, mode)(*args)
    cpu_types = (DeviceType.CPU, DeviceType.MKLDNN, DeviceType.IDEEP)
    events = [(e.start_ns(), e.nbytes())
              for e in prof.profiler.kineto_results.events()
              if e.name() == '[memory]' and e.device_type() in cpu_types]
    events.sort(key=lambda e: e[0])
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return resident + peak


# ------------------------------------------------------------------- FLOPs
def count_flops(segmentor, bare: nn.Module):
    from asda.utils.flops import count_by_part, flop_analyzer
    backbone = segmentor.backbone
    shape = tuple(backbone.img_size)
    parts = ('backbone', 'backbone.visual', 'backbone.text', 'neck',
             'decode_head')
    full = count_by_part(segmentor, shape, parts=parts)
    full.pop('unsupported', None)
    img = torch.randn(1, 3, *shape)
    tokens = backbone.tokenize([EXPRESSIONS[0]])
    wrapper = BareEncoders(bare).eval()
    with torch.no_grad():
        analyzer = flop_analyzer(wrapper, (img, tokens))
        by_module = analyzer.by_module()
    visual = sum(p.numel() for p in bare.visual.parameters())
    total_params = sum(p.numel() for p in bare.parameters())
    bare_counts = dict(
        visual=dict(flops=by_module.get('clip.visual', 0), params=visual),
        text=dict(flops=by_module.get('', 0) - by_module.get('clip.visual', 0),
                  params=total_params - visual),
        total=dict(flops=by_module.get('', 0), params=total_params))
    extra = sum(full[k]['flops'] for k in ('neck', 'decode_head') if k in full)
    return dict(full=full, bare=bare_counts,
                neck_head_over_backbone=extra / max(full['backbone']['flops'], 1),
                shape=list(shape), context_length=backbone.context_length)


# -------------------------------------------------------------------- main
def _stats(times, batch_size):
    median = statistics.median(times)
    return dict(median_ms=1e3 * median, min_ms=1e3 * min(times),
                times_ms=[1e3 * t for t in times],
                per_sample_ms=1e3 * median / batch_size,
                throughput=batch_size / median)


def run(args):
    from asda.engine.cli import merge_cfg_options, read_config
    cfg = read_config(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    cfg.model.backbone.pretrained = None  # random weights, nothing downloads
    cfg.model.pop('init_cfg', None)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS

    import asda  # noqa: F401  (registers the components)
    from asda.utils.malloc import apply_env_cfg
    from asda.utils.op_count import count_neck_head_ops

    # as the runner does: glibc's heap pad (bytes; None where not set)
    malloc_top_pad = apply_env_cfg(cfg.get('env_cfg'))
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    segmentor = MODELS.build(cfg.model)  # constructor init: random weights
    bare = build_bare_clip(segmentor.backbone)
    flops = count_flops(segmentor, bare)
    # ATen calls of one neck + head training step (CPU, batch 2): the
    # launch-overhead proxy the tests hold (asda.utils.op_count)
    op_counts = count_neck_head_ops(copy.deepcopy(segmentor), batch_size=2)

    full_module, bare_module = FullModel(segmentor), BareEncoders(bare)
    for module in (full_module, bare_module):
        module.to(device)
        if args.channels_last:
            module.to(memory_format=torch.channels_last)
    optim_cfg = cfg.get('optim_wrapper', {}).get(
        'optimizer', dict(type='Adam', lr=1e-4))
    models = dict(
        full=ModelSteps(full_module, optim_cfg, device, args.amp, args.compile),
        bare=ModelSteps(bare_module, optim_cfg, device, args.amp, args.compile))

    results = []
    for batch_size in args.batch_size:
        torch.manual_seed(args.seed)
        img, tokens, samples = make_inputs(segmentor, batch_size, device,
                                           args.channels_last)
        entry = dict(batch_size=batch_size)
        times = time_pair(models, 'infer', (img, tokens), args.warmup,
                          args.repeat)
        inference = {k: _stats(v, batch_size) for k, v in times.items()}
        inference['ratio'] = (inference['full']['median_ms']
                              / inference['bare']['median_ms'])
        if not args.no_memory:
            for name, steps in models.items():
                peak = peak_memory(steps, 'infer', (img, tokens))
                inference[name]['peak_mb'] = peak / 2**20
        entry['inference'] = inference
        if not (args.amp or args.no_half):
            times = time_pair(models, 'infer_half', (img, tokens),
                              args.warmup, args.repeat)
            half = {k: _stats(v, batch_size) for k, v in times.items()}
            half['dtype'] = str(models['full'].half_dtype).replace(
                'torch.', '')
            half['ratio'] = half['full']['median_ms'] / half['bare']['median_ms']
            # fp32 median / half median of the full model
            half['speedup'] = (inference['full']['median_ms']
                               / half['full']['median_ms'])
            entry['inference_half'] = half
        if not args.no_train:
            train_args = (img, tokens, samples)
            times = time_pair(models, 'train_step', train_args,
                              max(args.warmup, 1), args.train_repeat)
            train = {k: _stats(v, batch_size) for k, v in times.items()}
            train['ratio'] = (train['full']['median_ms']
                              / train['bare']['median_ms'])
            if not args.no_memory:
                for name, steps in models.items():
                    peak = peak_memory(steps, 'train_step', train_args)
                    train[name]['peak_mb'] = peak / 2**20
                    train[name]['peak_mb_per_sample'] = peak / 2**20 / batch_size
            entry['train'] = train
        if args.train_variants and batch_size == args.batch_size[0]:
            entry['train_variants'] = time_train_variants(
                full_module, optim_cfg, device, args.train_variants,
                (img, tokens, samples), args.warmup, args.train_repeat)
        results.append(entry)

    import open_clip
    return dict(
        config=args.config,
        command=' '.join(['python tools/analysis_tools/benchmark.py']
                         + list(getattr(args, 'argv', None) or [])),
        device=args.device,
        device_name=(torch.cuda.get_device_name(device)
                     if device.type == 'cuda' else cpu_name()),
        threads=torch.get_num_threads(), malloc_top_pad=malloc_top_pad,
        amp=args.amp, compile=args.compile, channels_last=args.channels_last,
        torch=torch.__version__, open_clip=open_clip.__version__,
        input=flops['shape'], context_length=flops['context_length'],
        bare=('open_clip CLIP of the same architecture (same image size, '
              'context length, activation), random init: encode_image + '
              'encode_text on the same tensors'),
        memory=('CUDA: max_memory_allocated; CPU: tensors held at the start '
                'plus the peak rise of live tensor bytes (torch.profiler '
                'allocation events)'),
        flops=flops, neck_head_aten_ops=op_counts, results=results)


def _mb(entry, key='peak_mb'):
    value = entry.get(key)
    return f'{value:.0f}' if value is not None else '-'


def format_table(report) -> str:
    lines = []
    h, w = report['input']
    lines.append(
        f"config: {report['config']}\ndevice: {report['device']} "
        f"({report['device_name']}), {report['threads']} threads, "
        f"amp={report['amp']}, compile={report['compile']}, "
        f"channels_last={report['channels_last']}, torch {report['torch']}, "
        f"open_clip {report['open_clip']}\ninput {h} x {w}, context length "
        f"{report['context_length']}; bare = {report['bare']}")
    sep = '-' * 92
    lines += [sep, f'{"":<6}{"":<6}{"inference":^40}{"training step":^40}',
              f'{"batch":<6}{"model":<6}{"ms":>10}{"img/s":>10}{"peak MB":>10}'
              f'{"ratio":>10}{"ms":>10}{"ms/img":>10}{"MB/img":>10}{"ratio":>10}',
              sep]
    for entry in report['results']:
        inf, train = entry['inference'], entry.get('train')
        for name in ('full', 'bare'):
            i = inf[name]
            ratio = f'{inf["ratio"]:.3f}' if name == 'full' else ''
            row = (f'{entry["batch_size"]:<6}{name:<6}{i["median_ms"]:>10.1f}'
                   f'{i["throughput"]:>10.2f}{_mb(i):>10}{ratio:>10}')
            if train:
                t = train[name]
                ratio = f'{train["ratio"]:.3f}' if name == 'full' else ''
                row += (f'{t["median_ms"]:>10.0f}{t["per_sample_ms"]:>10.0f}'
                        f'{_mb(t, "peak_mb_per_sample"):>10}{ratio:>10}')
            lines.append(row)
        for name, v in entry.get('train_variants', {}).items():
            lines.append(f'{"":<6}training step, {name}: {v["median_ms"]:.0f} ms '
                         f'({v["speedup"]:.2f}x the first)')
        half = entry.get('inference_half')
        if half:
            lines.append(
                f'{"":<6}half inference ({half["dtype"]} autocast): full '
                f'{half["full"]["median_ms"]:.1f} ms '
                f'({half["full"]["throughput"]:.2f} img/s, '
                f'{half["speedup"]:.2f}x fp32), bare '
                f'{half["bare"]["median_ms"]:.1f} ms, ratio {half["ratio"]:.3f}')
    lines.append(sep)
    flops = report['flops']
    full, bare = flops['full'], flops['bare']
    lines.append(f'{"FLOPs per image (1 multiply-add = 1 FLOP)":<44}'
                 f'{"GFLOPs":>10}{"params (M)":>12}')
    rows = [('full: backbone (CLIP image + text)', full.get('backbone')),
            ('  image tower', full.get('backbone.visual')),
            ('  text tower', full.get('backbone.text')),
            ('full: neck (AFSF)', full.get('neck')),
            ('full: head (WGDA)', full.get('decode_head')),
            ('full: total', full.get('total')),
            ('bare: encode_image', bare['visual']),
            ('bare: encode_text', bare['text']),
            ('bare: total', bare['total'])]
    for name, item in rows:
        if item is None:
            continue
        lines.append(f'{name:<44}{item["flops"] / 1e9:>10.3f}'
                     f'{item["params"] / 1e6:>12.2f}')
    lines.append(f'neck + head = {100 * flops["neck_head_over_backbone"]:.1f}% '
                 f'of the backbone\'s FLOPs')
    ops = report.get('neck_head_aten_ops')
    if ops:
        lines.append(f'neck + head ATen calls per training step (batch 2, CPU): '
                     f'forward {ops["forward"]}, backward {ops["backward"]}')
    lines.append(sep)
    return '\n'.join(lines)


def main(argv=None):
    import sys
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    report = run(args)
    print(format_table(report))
    out = args.out or osp.join(
        'work_dirs', 'benchmark',
        osp.splitext(osp.basename(args.config))[0] + '.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    write_json(out, report, indent=2)
    print(f'written: {out}')
    return report


if __name__ == '__main__':
    main()
