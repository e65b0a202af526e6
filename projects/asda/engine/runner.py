"""``ASDARunner``: mmengine's Runner with strict checkpoint loading and a
resume that survives a crash.

* ``load_from`` and ``--resume`` are read by
  :func:`asda.engine.checkpoint.read_checkpoint` (a damaged file is refused,
  ``load_from`` as soon as the runner is made) and go through
  :func:`asda.engine.checkpoint.load_model_checkpoint`, strictly: a checkpoint
  of another model stops the run with the keys at fault (mmengine's Runner
  loads non-strictly and only warns). ``load_partial = True`` in the config
  loads ``load_from`` partially, for fine-tuning from another model's weights
  (resume is always strict).
* ``--resume`` without a file takes the checkpoint ``last_checkpoint``
  records when it reads back whole, else the newest readable one
  (:func:`asda.engine.checkpoint.find_resumable_checkpoint`), and says
  plainly when there is none and training starts from scratch.
* Resuming is refused when nothing is left to train or the checkpoint's
  optimizer is of another type, and says which config values the
  checkpoint's optimizer state overrides (:mod:`asda.engine.resume`).
* ``train()`` holds the work dir (:mod:`asda.engine.work_dir_lock`): a
  second run training into it at the same time is refused.
* Every checkpoint holds the state of every random generator training
  draws from, and a resumed run restores it, so that it continues as the
  uninterrupted run would have (:class:`asda.engine.resume.RNGStateHook`,
  registered on every ASDARunner).
* The config is dumped into the work dir (``WORK_DIR/<config>.py``) once the
  run has passed its checks (datasets built, the checkpoint loaded or the
  resume accepted), not when the runner is made: a refused run leaves the
  dump that describes the checkpoints beside it as it was.
* A training length that trains nothing (``train_cfg.max_epochs`` or
  ``max_iters`` below 1, or not an integer) is refused when the runner is
  made (:func:`check_train_length`): mmengine would run no step and exit 0.
* Every runner has a :class:`asda.engine.DivergenceHook` (unless the
  config's ``custom_hooks`` has one): training stops at the first NaN or
  inf loss, naming the iteration, and no non-finite weights are saved.
* Every runner of a process has its own experiment name. mmengine keeps
  loggers, message hubs and visualizers by that name, process-wide, and
  makes it from the config's name and the second the run starts: a second
  runner made within the same second (``tools/test.py --split all``, the
  demo's evaluations) would write into the first one's log file and share
  its hub. From the second runner of a process on, the name gets
  ``_run<N>``.
* ``train()``, ``val()`` and ``test()`` stop the worker processes their
  data loaders keep (``persistent_workers``) when they return. Left to the
  garbage collector, a worker can take 5 s to stop (torch's join timeout):
  the collector may close the worker's queue before the loader sends its
  stop through it.
* ``env_cfg.malloc_top_pad`` (bytes; the ASDA configs' runtime sets 256
  MiB) is the spare memory glibc keeps at the top of its heap
  (:func:`asda.utils.malloc.apply_env_cfg`): a CPU training step then
  stops handing its tensors' memory back to the kernel and faulting it in
  again on the next step. It holds for the rest of the process. Unset or 0:
  glibc's settings are left alone.
* The runner's config formats its text once (:class:`FormattedOnceConfig`):
  mmengine formats it with yapf for the log, the dump and every checkpoint's
  meta, 0.1-0.4 s a time: in a short run, more than the training itself.

The ASDA configs select it with ``runner_type = 'ASDARunner'``; the tools use
it for any config that names no runner.
"""
import inspect
import itertools
import os.path as osp
from typing import Callable, Optional, Union

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..utils import malloc
from .checkpoint import (
    find_resumable_checkpoint,
    load_model_checkpoint,
    read_checkpoint,
    verify_checkpoint,
)
from .hooks import DivergenceHook
from .resume import RNGStateHook, check_resume
from .work_dir_lock import hold_work_dir

__all__ = ['ASDARunner', 'FormattedOnceConfig', 'check_train_length']

_RUNNERS_MADE = itertools.count(1)  # in this process


def _unique_experiment_name(kwargs: dict) -> None:
    """Give the runner being made a name of its own (see the module)."""
    number = next(_RUNNERS_MADE)
    if number == 1:
        return  # the first runner keeps mmengine's name
    name = kwargs.get('experiment_name')
    if name is None:
        cfg = kwargs.get('cfg')
        filename = getattr(cfg, 'filename', None)
        name = osp.splitext(osp.basename(filename))[0] if filename else 'run'
    kwargs['experiment_name'] = f'{name}_run{number}'


class FormattedOnceConfig(Config):
    """A ``Config`` whose ``pretty_text`` is formatted once per content: it
    is kept with the ``repr`` of the values it was made from, and formatted
    again only when they change."""

    @classmethod
    def of(cls, cfg: Config) -> 'FormattedOnceConfig':
        """``cfg``'s values, file name and text in a ``FormattedOnceConfig``
        (the values are shared, not copied)."""
        if isinstance(cfg, cls):
            return cfg
        other = cls.__new__(cls)
        other.__setstate__(cfg.__getstate__())
        return other

    @property
    def pretty_text(self) -> str:
        key = repr(self._cfg_dict)
        cached = self.__dict__.get('_pretty_text_of')
        if cached is None or cached[0] != key:
            cached = (key, super().pretty_text)
            # Config's own __setattr__ writes config values, not attributes
            object.__setattr__(self, '_pretty_text_of', cached)
        return cached[1]


def _release_workers(*loops) -> None:
    """Stop the worker processes that the data loaders of ``loops`` (built
    loops, or config dicts of unbuilt ones) keep between epochs."""
    for loop in loops:
        loader = getattr(loop, 'dataloader', None)
        iterator = getattr(loader, '_iterator', None)  # torch's persistent one
        if iterator is not None and hasattr(iterator, '_shutdown_workers'):
            iterator._shutdown_workers()
            loader._iterator = None


def check_train_length(train_cfg) -> None:
    """Refuse a training loop config that trains nothing: its
    ``max_epochs`` / ``max_iters``, where given, must be an integer >= 1.

    Raises:
        ValueError: Names the ``train_cfg`` key and its value.
    """
    if not isinstance(train_cfg, dict):
        return
    for key in ('max_epochs', 'max_iters'):
        if key not in train_cfg:
            continue
        value = train_cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f'train_cfg.{key} must be an integer >= 1, got {value!r}: the '
                f'run would train nothing')


# In mmengine's root registry: runners are built before any default scope is
# set, so a runner in mmseg's registry would not be found by name.
@RUNNERS.register_module()
class ASDARunner(Runner):
    """mmengine ``Runner`` whose checkpoint loading is strict (see module)."""

    # while resume() runs: whether it resumes the optimizer state
    _resuming: Optional[bool] = None
    # the config dump waits for the run's checks (see the module)
    _dump_pending: bool = False

    def __init__(self, *args, **kwargs):
        # a training length that trains nothing and a damaged load_from /
        # --resume file stop the run here, before the log is written and
        # the datasets are built
        bound = inspect.signature(Runner.__init__).bind_partial(
            self, *args, **kwargs).arguments
        check_train_length(bound.get('train_cfg'))
        if kwargs.get('load_from') is not None:
            verify_checkpoint(kwargs['load_from'])
        _unique_experiment_name(kwargs)
        if isinstance(kwargs.get('cfg'), Config):
            kwargs['cfg'] = FormattedOnceConfig.of(kwargs['cfg'])
        super().__init__(*args, **kwargs)

    def setup_env(self, env_cfg: dict) -> None:
        """mmengine's environment set-up, and glibc's heap pad
        ``env_cfg.malloc_top_pad`` (see the module) before any worker is
        forked."""
        super().setup_env(env_cfg)
        malloc.apply_env_cfg(env_cfg)

    @property
    def resuming(self) -> bool:
        """Whether a resume is loading its checkpoint now."""
        return self._resuming is not None

    def dump_config(self) -> None:
        """Called by mmengine when the runner is made: the dump waits until
        the run has passed its checks (:meth:`load_or_resume`)."""
        self._dump_pending = True

    def _dump_config_now(self) -> None:
        if self._dump_pending:
            self._dump_pending = False
            super().dump_config()

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        """mmengine's hooks, and a :class:`DivergenceHook` and an
        :class:`RNGStateHook` unless ``custom_hooks`` has them."""
        super().register_hooks(default_hooks, custom_hooks)
        for kind in (DivergenceHook, RNGStateHook):
            if not any(isinstance(hook, kind) for hook in self._hooks):
                self.register_hook(kind())

    def train(self):
        """Train, holding the work dir (:func:`hold_work_dir`)."""
        with hold_work_dir(self.work_dir):
            try:
                return super().train()
            finally:
                _release_workers(self._train_loop, self._val_loop)

    def val(self) -> dict:
        """mmengine's ``val``; its loader's workers stopped after it."""
        try:
            return super().val()
        finally:
            _release_workers(self._val_loop)

    def test(self) -> dict:
        """mmengine's ``test``; its loader's workers stopped after it."""
        try:
            return super().test()
        finally:
            _release_workers(self._test_loop)

    def resume(self,
               filename: str,
               resume_optimizer: bool = True,
               resume_param_scheduler: bool = True,
               map_location: Union[str, Callable] = 'default') -> None:
        """mmengine's ``resume``, once :func:`asda.engine.resume.check_resume`
        has accepted the checkpoint (see module)."""
        self._resuming = resume_optimizer
        try:
            super().resume(filename, resume_optimizer, resume_param_scheduler,
                           map_location)
        finally:
            self._resuming = None

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = True,
                        revise_keys: list = [(r'^module.', '')]):  # noqa: B006
        """Load ``filename`` into the model; strict unless ``strict=False``.

        ``revise_keys`` is accepted for mmengine's signature; DDP's
        ``module.`` prefix is always dropped.
        """
        checkpoint = read_checkpoint(filename, map_location=map_location)
        if self._resuming is not None:
            check_resume(self, checkpoint, filename, self._resuming)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_model_checkpoint(model, checkpoint, strict=strict, source=filename)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def load_or_resume(self) -> None:
        """Resume (``resume=True``) or load ``load_from``; then, the run's
        checks passed, dump the config (see the module)."""
        self._load_or_resume()
        self._dump_config_now()

    def _load_or_resume(self) -> None:
        if self._has_loaded:
            return
        resume_from = None
        if self._resume and self._load_from is None:
            resume_from = find_resumable_checkpoint(self.work_dir)
            if resume_from is None:
                self.logger.info(
                    f'resume: no checkpoint to resume from in {self.work_dir}; '
                    f'training starts from scratch')
            else:
                self.logger.info(f'resume: continuing from {resume_from}')
        elif self._resume:
            resume_from = self._load_from
        if resume_from is not None:
            self.resume(resume_from)
            self._has_loaded = True
        elif self._load_from is not None:
            partial = bool(self.cfg.get('load_partial', False))
            self.load_checkpoint(self._load_from, strict=not partial)
            self._has_loaded = True
