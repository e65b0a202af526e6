"""Helpers shared by the tests (importable as ``asda_test_utils``: the root
conftest puts tests/ on sys.path): the modules a source file imports, import
a tools/ script, a stream that is a terminal, write a config,
the grefs of the text-only control, save a random-init checkpoint, damage a
checkpoint file, the environment of a child process, the counts of a
referring dataset's split, the float32 rounding tolerance of values
computed in different orders, and a decompression bomb (a small PNG of many
pixels)."""
import ast
import importlib
import importlib.util
import io
import os
import os.path as osp
import site
import struct
import zipfile
import zlib
from typing import Dict, List, Sequence

import numpy as np
import torch

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
TESTS = osp.dirname(osp.abspath(__file__))
DEMO_CONFIG = osp.join(ROOT, 'configs', 'asda', 'asda_tiny_synthetic.py')
#: The package's folder (import name ``asda``).
PACKAGE = osp.join(ROOT, 'projects', 'asda')

# Float32 rounding. A value computed in another order (another CPU's vector
# kernels, thread count, batch size, runtime) moves by a few rounding errors
# of the magnitudes it is computed from: for a sum of terms of both signs,
# sum(|terms|), not the sum itself. ROUNDING_K is the budget, in units of
# eps32 * magnitude, calibrated on the golden model families
# (tests/models/test_golden.py): float32 lies within 43 of float64 there, and
# the plain / AVX2 / AVX-512 kernels at 1 or 2 threads within 118 of each other.
EPS32 = float(np.finfo(np.float32).eps)
ROUNDING_K = 512


def map_magnitude(values) -> np.ndarray:
    """The rounding magnitude of each entry of a map computed by a network:
    its own size plus the map's mean size (an entry near 0 is still a sum of
    terms of the map's size)."""
    values = np.abs(np.asarray(values, dtype=np.float64))
    return values + values.mean()


def logit_magnitude(probs) -> np.ndarray:
    """:func:`map_magnitude` of the logits behind sigmoid probabilities,
    times sigmoid's largest slope (1/4): the magnitude of the probabilities'
    rounding."""
    p = np.clip(np.asarray(probs, dtype=np.float64), EPS32, 1 - EPS32)
    return map_magnitude(np.log(p) - np.log1p(-p)) / 4


def assert_close_to_rounding(actual, expected, magnitude=None, what: str = ''):
    """``actual`` within ``ROUNDING_K * eps32 * magnitude`` of ``expected``,
    entry by entry (``magnitude`` defaults to :func:`map_magnitude` of
    ``expected``)."""
    if isinstance(actual, torch.Tensor):
        actual = actual.detach().cpu().double().numpy()
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().cpu().double().numpy()
    if isinstance(magnitude, torch.Tensor):
        magnitude = magnitude.detach().cpu().double().numpy()
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f'{what}: {actual.shape} != {expected.shape}'
    if magnitude is None:
        magnitude = map_magnitude(expected)
    tol = ROUNDING_K * EPS32 * np.broadcast_to(magnitude, expected.shape)
    off = np.abs(actual - expected) > tol
    assert not off.any(), (
        f'{what}: {int(off.sum())} of {off.size} values off by more than '
        f'{ROUNDING_K} * eps32 * magnitude; first at {np.argwhere(off)[0].tolist()}: '
        f'{actual[off][0]:.9g} vs {expected[off][0]:.9g} (tolerance {tol[off][0]:.3g})')


def _module_name(path: str, package: str) -> str:
    rel = osp.relpath(path, osp.dirname(package))[:-len('.py')].split(os.sep)
    return '.'.join(rel[:-1] if rel[-1] == '__init__' else rel)


def imported_modules(path: str, package: str = PACKAGE):
    """The absolute names of the modules ``path`` (a file of the package
    folder ``package``) imports, relative imports resolved, with their line
    numbers."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    name = _module_name(path, package)
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parent = '.'.join(parts[:len(parts) - node.level + 1])
                base = f'{parent}.{base}' if base else parent
            yield base, node.lineno
            for alias in node.names:  # ``from asda import synthetic``
                yield f'{base}.{alias.name}', node.lineno


def forbidden_imports(paths, forbidden, package: str = PACKAGE, root: str = ROOT) -> List[str]:
    """``FILE:LINE imports MODULE`` for each import in the files ``paths``
    (of the package folder ``package``; lazy imports inside functions
    included, :func:`imported_modules`) of a module named in ``forbidden``
    or below one; FILE relative to ``root``."""
    return [f'{osp.relpath(path, root)}:{line} imports {module}'
            for path in paths for module, line in imported_modules(path, package)
            if any(module == name or module.startswith(name + '.') for name in forbidden)]


class Terminal(io.StringIO):
    """A text stream that says it is a terminal (progress bars draw on it)."""

    def isatty(self) -> bool:
        return True


def load_tool(relpath: str, name: str):
    """Import a script under tools/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(path, data_root: str, extra: str = '', base: str = None) -> str:
    """A config inheriting the demo config (or ``base``), on ``data_root``,
    deterministic (no random augmentation, no workers), with ``extra``
    appended."""
    text = f'''
_base_ = [{base or DEMO_CONFIG!r}]
data_root = {data_root!r}
_det_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='LoadReferringAnnotations'),
    dict(type='ReferringResize', scale=(224, 224), keep_ratio=True),  # the demo's size
    dict(type='PackReferringInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=_det_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
default_hooks = dict(logger=dict(interval=1))
{extra}
'''
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


# Expressions for the text-only control's grefs (asda.synthetic.probes).
CONTROL_TEXTS = ['the red circle', 'both blue squares', 'the leftmost green object',
                 'all the yellow triangles on the left', 'the small diamond',
                 'the two hexagons', 'upper red shape', 'the bigger blue thing']
_GREF_IDS = iter(range(1, 10 ** 6))


def control_gref(split: str, texts: Sequence[str], no_target: bool) -> dict:
    """A gref of ``texts`` in ``split``, with or without a target (fresh
    ref and sentence ids)."""
    ids = [next(_GREF_IDS) for _ in texts]
    return dict(ref_id=ids[0], image_id=1, ann_id=[-1] if no_target else [1],
                split=split, sent_ids=ids,
                sentences=[dict(sent=t, sent_id=i) for t, i in zip(texts, ids)])


def giveaway_grefs(split: str) -> list:
    """Grefs of :data:`CONTROL_TEXTS` with a target, and of five of them
    without one: the no-target expressions, and only they, say 'purple'."""
    return ([control_gref(split, [t], False) for t in CONTROL_TEXTS] +
            [control_gref(split, [t.replace(t.split()[-1], 'purple ' +
                                            t.split()[-1])], True)
             for t in CONTROL_TEXTS[:5]])


def save_random_checkpoint(path, config: str, seed: int):
    """Build ``config``'s model with random weights (``torch.manual_seed(
    seed)``) and save it at ``path`` in mmengine's checkpoint layout.

    Returns:
        The model (eval mode, as ``init_model`` gives it).
    """
    from asda.apis import init_model
    torch.manual_seed(seed)
    model = init_model(config)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model


def corrupt_weights(path, count: int = 16) -> str:
    """Overwrite ``count`` float32 values of the largest tensor of the torch
    zip checkpoint ``path`` with 3.4e38, in place: the file still loads, but
    that entry fails its CRC check.

    Returns:
        The name of the damaged archive entry.
    """
    with zipfile.ZipFile(path) as archive:
        entry = max((i for i in archive.infolist() if '/data/' in i.filename),
                    key=lambda i: i.file_size)
    assert entry.compress_type == zipfile.ZIP_STORED and \
        entry.file_size >= 4 * count, entry
    with open(path, 'r+b') as f:
        f.seek(entry.header_offset + 26)  # the local header's name / extra sizes
        name_size, extra_size = struct.unpack('<HH', f.read(4))
        f.seek(entry.header_offset + 30 + name_size + extra_size)
        f.write(struct.pack('<f', 3.4e38) * count)
    return entry.filename


def cut_short(path) -> None:
    """Keep the first half of the file ``path`` (a write cut short)."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


# Packages a child process must import from where this process took them.
_CHILD_PACKAGES = ('asda', 'mmseg', 'mmengine', 'mmcv', 'open_clip', 'torch')


def child_env(cpu_only: bool = False, paths: Sequence[str] = (),
              **extra: str) -> Dict[str, str]:
    """The environment for a process a test starts: this one's, plus.

    ``PYTHONPATH`` keeps its entries and gains ``paths``, tests/ (for
    ``asda_test_utils``) and the folder each of asda, mmseg, mmengine, mmcv,
    open_clip and torch was imported from when that folder is not a
    site-packages folder (a source checkout, ``pip install --target``), so
    the child imports the same code as this process.

    Args:
        cpu_only (bool): Hide the GPUs (``CUDA_VISIBLE_DEVICES=''``): the
            child's ``torch.cuda.is_available()`` is False, so mmengine and
            the tools take their CPU paths. For tests of CPU-only paths and
            exact CPU results, whatever the hardware.
        paths (Sequence[str]): More folders for the front of PYTHONPATH.
        **extra (str): Further variables to set.
    """
    site_dirs = {osp.realpath(d) for d in
                 site.getsitepackages() + [site.getusersitepackages()]}
    entries = [osp.abspath(p) for p in paths] + [TESTS]
    for name in _CHILD_PACKAGES:
        module = importlib.import_module(name)
        parent = osp.dirname(osp.dirname(osp.abspath(module.__file__)))
        if osp.realpath(parent) not in site_dirs:
            entries.append(parent)
    entries += [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep)
                if p]
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(dict.fromkeys(entries))
    if cpu_only:
        env['CUDA_VISIBLE_DEVICES'] = ''
    env.update(extra)
    return env


def linear_toy_model():
    """A runner's model for runner-level tests: y = w x + b (an mmengine
    ``BaseModel``); its loss is the mean squared error, NaN for a batch with
    a NaN input."""
    from mmengine.model import BaseModel

    class LinearToy(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 1)

        def forward(self, inputs, targets=None, mode='tensor'):
            out = self.fc(inputs).squeeze(1)
            if mode == 'loss':
                return dict(loss=((out - targets)**2).mean())
            return out

    return LinearToy()


def linear_toy_training(shuffle: bool = False) -> dict:
    """A runner's model and training data for runner-level tests: y = w x + b
    (:func:`linear_toy_model`) fitted to 8 points, batch 4 (2 iterations an
    epoch)."""
    data = [dict(inputs=torch.tensor([float(i), 1.0]), targets=torch.tensor(float(i)))
            for i in range(8)]
    return dict(model=linear_toy_model(), train_dataloader=dict(
        dataset=data, batch_size=4, sampler=dict(type='DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='default_collate')))


def split_stats(dataset) -> Dict[str, int]:
    """Numbers of samples, refs, expressions and images of a referring
    dataset's split (:class:`asda.RefCOCODataset` or a subclass), read from
    its stored data infos (in ``'ref'`` mode a sample lists its sentences)."""
    from mmseg.datasets import BaseSegDataset
    refs, sents, imgs = set(), 0, set()
    for i in range(len(dataset)):
        info = BaseSegDataset.get_data_info(dataset, i)  # no sentence drawn
        refs.add(info['ref_id'])
        imgs.add(info['image_id'])
        sents += len(info['sentences']) if 'sentences' in info else 1
    return dict(samples=len(dataset), refs=len(refs), sentences=sents,
                images=len(imgs))


def write_png_bomb(path, width: int, height: int) -> str:
    """A valid black 1-bit PNG of ``width`` x ``height`` pixels at ``path``:
    a few kilobytes (its rows compress to almost nothing) that decode to
    ``3 * width * height`` bytes of BGR."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data)))

    row = b'\0' * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b''.join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0)  # 1-bit gray
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', idat)
                + chunk(b'IEND', b''))
    return str(path)
