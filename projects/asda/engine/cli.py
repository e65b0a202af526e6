"""Command-line options shared by the training and evaluation tools, the
config changes the options make, and the one reader of config files
(:func:`read_config`: a syntax error names its file, bases included). The
argument types of every command line live in :mod:`asda.utils.arg_types`.

* ``--data-root DIR``: the data root of every dataloader's dataset (a
  top-level ``data_root`` in ``--cfg-options`` changes nothing once the
  config is read, so it gets a warning naming the keys that work).
* ``--skip-bad-samples``: run on the samples whose images are usable and
  report the others, instead of stopping at the pre-flight image check.
* ``--no-image-check``: skip the pre-flight image check.

``--cfg-options`` (:func:`check_cfg_options`): a value that replaces a number
or a bool of the config must be one (``train_cfg.max_epochs=abc`` is refused
naming the option, before anything is built); a top-level name that only
nested settings use (``lr=0.01``, or the config's variable ``max_epochs``,
already used when the config was read) changes none of them and gets a
warning naming the keys to set; a top-level name that neither the config
nor a run knows (``trian_cfg.max_epochs=1``) is refused, naming the close
matches, before anything is built.
"""
import argparse
import ast
import difflib
import inspect
import os
import os.path as osp
import warnings
from typing import Any, Iterator, List, Optional, Tuple

from mmengine.config import Config, ConfigDict, DictAction

__all__ = [
    'add_runner_args', 'add_data_args', 'parse_runner_args', 'read_config',
    'load_run_config', 'apply_data_args', 'check_cfg_options', 'merge_cfg_options',
    'dataset_cfgs', 'DATALOADERS'
]

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """``--data-root``, ``--skip-bad-samples`` and ``--no-image-check``."""
    parser.add_argument(
        '--data-root', help='data root of every dataloader (replaces the '
        "config's data_root, e.g. data/coco/)")
    parser.add_argument(
        '--skip-bad-samples', action='store_true',
        help='run on the samples whose images are usable and list the others '
        '(log, --out file, "N of M expressions") instead of stopping')
    parser.add_argument(
        '--no-image-check', action='store_true',
        help='skip the pre-flight check of every image of the split')


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """The options ``tools/train.py`` and ``tools/test.py`` share: the data
    options above, ``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    add_data_args(parser)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value (xxx=yyy format)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='rank of this process on its node, set by the '
                        'launcher (an environment LOCAL_RANK wins)')


def parse_runner_args(parser: argparse.ArgumentParser, argv=None):
    """Parse, and export ``LOCAL_RANK`` when the launcher did not."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def dataset_cfgs(cfg: Config) -> Iterator[ConfigDict]:
    """Every dataset config of the dataloaders, wrapped ones included
    (``dataset.dataset``, ``dataset.datasets``, and the evaluation splits a
    :class:`asda.datasets.JointReferringDataset` ``exclude`` s)."""

    def walk(dataset):
        if not isinstance(dataset, dict):
            return
        inner = [dataset.get('dataset')] + list(dataset.get('datasets') or []) + \
            list(dataset.get('exclude') or [])
        wrapped = [d for d in inner if isinstance(d, dict)]
        if wrapped:
            for d in wrapped:
                yield from walk(d)
        else:
            yield dataset

    for loader in DATALOADERS:
        yield from walk((cfg.get(loader) or {}).get('dataset'))


def apply_data_args(cfg: Config, data_root: Optional[str] = None,
                    skip_bad_samples: bool = False,
                    image_check: bool = True) -> None:
    """Apply ``--data-root`` / ``--skip-bad-samples`` / ``--no-image-check``
    to every dataset config of ``cfg``, in place."""
    for dataset in dataset_cfgs(cfg):
        if data_root is not None:
            dataset.data_root = data_root
        if skip_bad_samples:
            dataset.skip_bad_samples = True
        if not image_check:
            dataset.check_images = False


def _syntax_error_in(path: str) -> Optional[SyntaxError]:
    """The syntax error of the config ``path`` or of one of its bases (as
    mmengine resolves them), with the file it is in, or None."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        ast.parse(text, filename=path)
    except SyntaxError as err:
        return err
    for base in Config._get_base_files(path):
        found = _syntax_error_in(Config._get_cfg_path(base, path)[0])
        if found is not None:
            return found
    return None


def read_config(path: str) -> Config:
    """``Config.fromfile(path)``, the one way the tools read a config file.

    mmengine parses each file of the ``_base_`` chain without its name, so a
    syntax error in any of them says ``File "<unknown>"``; here the file is
    found and named (the error's ``filename``, ``lineno`` and message).
    """
    try:
        return Config.fromfile(path)
    except SyntaxError as err:
        found = _syntax_error_in(path) if err.filename in (None, '<unknown>') \
            else None
        if found is None:
            raise
        raise SyntaxError(
            f'syntax error in config file {found.filename}: {found.msg}',
            (found.filename, found.lineno, found.offset, found.text,
             found.end_lineno, found.end_offset)) from err


def _runner_keys() -> frozenset:
    """The top-level config keys a run reads: mmengine Runner's arguments
    and the ones it, ASDARunner and the runner registry read themselves."""
    from mmengine.runner import Runner
    return frozenset(inspect.signature(Runner.__init__).parameters) | {
        'runner_type', 'load_partial', 'model_wrapper_cfg', 'find_unused_parameters',
        'compile', 'activation_checkpointing', 'efficient_conv_bn_eval', 'gpu_ids'}


def _lookup(cfg: Any, key: str) -> Tuple[bool, Any]:
    """Whether the dotted ``key`` (list items by index) is in ``cfg``, and
    its value."""
    node = cfg
    for part in key.split('.'):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _nested_keys(node: Any, name: str, prefix: str = '') -> List[str]:
    """The dotted keys below the top level of ``node`` whose last part is
    ``name``."""
    if isinstance(node, dict):
        items = [(str(k), v) for k, v in node.items()]
    elif isinstance(node, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(node)]
    else:
        return []
    found = []
    for part, value in items:
        key = f'{prefix}.{part}' if prefix else part
        if prefix and part == name:
            found.append(key)
        found += _nested_keys(value, name, key)
    return found


def _kind_problem(current: Any, value: Any) -> Optional[str]:
    """Why ``value`` cannot replace ``current`` (a str for a bool or a
    number), or None."""
    if not isinstance(value, str):
        return None
    if isinstance(current, bool):
        return f'{value!r} is not True or False'
    if isinstance(current, (int, float)):
        return f'{value!r} is not a number'
    return None


def check_cfg_options(cfg: Config, cfg_options: dict) -> None:
    """Check ``--cfg-options`` against the config they change (see the
    module), before they are merged.

    Raises:
        ValueError: A value replaces a number or a bool and is a string
            (``--cfg-options KEY=VALUE``, why, and the config's value), or
            the key's top-level name is neither the config's nor one a run
            reads (with the close matches).
    """
    cfg = cfg._cfg_dict if isinstance(cfg, Config) else cfg  # a ConfigDict
    runner_keys = _runner_keys()
    for key, value in cfg_options.items():
        found, current = _lookup(cfg, key)
        problem = _kind_problem(current, value) if found else None
        if problem is not None:
            raise ValueError(f'--cfg-options {key}={value}: {problem} (the config has '
                             f'{key}={current!r})')
        top = key.split('.')[0]
        if top not in cfg and top not in runner_keys and top != 'data_root' and \
                not _nested_keys(cfg, key):
            close = difflib.get_close_matches(top, sorted(set(cfg) | runner_keys), n=3,
                                              cutoff=0.8)
            hint = f' (did you mean {" or ".join(close)}?)' if close else ''
            raise ValueError(f'--cfg-options {key}={value}: neither the config nor a run '
                             f'has a top-level {top}{hint}')
        if '.' in key or key == 'data_root' or key in runner_keys or \
                isinstance(current, dict):
            continue
        settings = _nested_keys(cfg, key)
        if settings:
            why = (f"the config's variable {key} was used when the config was read"
                   if found else f'the config has no top-level {key}')
            warnings.warn(f'--cfg-options {key}={value} changes no setting: {why}; '
                          f'set {", ".join(settings)}', stacklevel=3)


def merge_cfg_options(cfg: Config, cfg_options: Optional[dict]) -> Config:
    """Merge ``--cfg-options`` into ``cfg`` once :func:`check_cfg_options`
    has accepted them: how every tool applies them. Returns ``cfg``."""
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_run_config(config: str, launcher: str = 'none', cfg_options=None,
                    work_dir: Optional[str] = None, args=None) -> Config:
    """Read a config the way ``tools/train.py`` and ``tools/test.py`` do.

    Args:
        config (str): Config file path.
        launcher (str): Job launcher, stored as ``cfg.launcher``.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``; otherwise the config's, or
            ``./work_dirs/<config name>``.
        args (Namespace, optional): Parsed options of :func:`add_data_args`.
    """
    cfg = read_config(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        if 'data_root' in cfg_options:
            keys = ', '.join(f'{loader}.dataset.data_root'
                             for loader in DATALOADERS)
            warnings.warn(
                f'--cfg-options data_root={cfg_options["data_root"]} changes '
                f'no dataloader (the config has already used it); pass '
                f'--data-root, or set {keys}', stacklevel=2)
        merge_cfg_options(cfg, cfg_options)
    if args is not None:
        apply_data_args(cfg, getattr(args, 'data_root', None),
                        getattr(args, 'skip_bad_samples', False),
                        not getattr(args, 'no_image_check', False))
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    cfg.setdefault('runner_type', 'ASDARunner')
    return cfg
