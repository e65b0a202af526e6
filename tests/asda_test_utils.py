"""Helpers shared by the tests (importable as ``asda_test_utils``: the root
conftest puts tests/ on sys.path): import a tools/ script, write a config,
save a random-init checkpoint."""
import importlib.util
import os.path as osp

import torch

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
DEMO_CONFIG = osp.join(ROOT, 'configs', 'asda', 'asda_tiny_synthetic.py')


def load_tool(relpath: str, name: str):
    """Import a script under tools/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(path, data_root: str, extra: str = '') -> str:
    """A config inheriting the demo config, on ``data_root``, deterministic
    (no random augmentation, no workers), with ``extra`` appended."""
    text = f'''
_base_ = [{DEMO_CONFIG!r}]
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
