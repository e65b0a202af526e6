"""Helpers for the inference API tests (importable: ``from ris_helpers
import ...``; conftest modules are not)."""
import importlib.util
import os.path as osp

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEMO_CONFIG = osp.join(ROOT, 'configs', 'asda', 'asda_tiny_synthetic.py')


def load_tool(relpath: str, name: str):
    """Import a script under tools/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_ris_config(path, data_root: str, extra: str = '') -> str:
    """The demo config on ``data_root``, no workers, plus ``extra``."""
    text = f'''
_base_ = [{DEMO_CONFIG!r}]
data_root = {data_root!r}
train_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
{extra}
'''
    with open(path, 'w') as f:
        f.write(text)
    return str(path)
