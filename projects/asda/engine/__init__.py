"""Running ASDA with mmengine: checked, strict and crash-safe checkpoints,
checked resumes, diverged runs stopped, one run per work dir, the tools'
shared options and config reading, CPU distributed / mixed-precision set-up."""
from .checkpoint import (
    CheckpointMismatchError,
    NonFiniteWeightsError,
    UnreadableCheckpointError,
    check_finite_weights,
    checkpoint_problem,
    find_resumable_checkpoint,
    load_model_checkpoint,
    read_checkpoint,
    verify_checkpoint,
)
from .cli import (
    add_data_args,
    add_runner_args,
    apply_data_args,
    load_run_config,
    parse_runner_args,
    read_config,
)
from .hooks import DivergenceHook, SafeCheckpointHook, TrainingDivergedError
from .launch import enable_amp, setup_cpu_distributed
from .optim_wrapper import CPUAutocastOptimWrapper
from .resume import CannotResumeError, NothingLeftToTrainError
from .runner import ASDARunner, FormattedOnceConfig, check_train_length
from .work_dir_lock import LOCK_FILE, BadLockFileError, WorkDirInUseError, hold_work_dir

__all__ = [
    'ASDARunner', 'BadLockFileError', 'CPUAutocastOptimWrapper', 'CannotResumeError',
    'CheckpointMismatchError', 'DivergenceHook', 'FormattedOnceConfig', 'LOCK_FILE',
    'NonFiniteWeightsError', 'NothingLeftToTrainError', 'SafeCheckpointHook',
    'TrainingDivergedError', 'UnreadableCheckpointError', 'WorkDirInUseError',
    'add_data_args', 'add_runner_args', 'apply_data_args',
    'check_finite_weights', 'check_train_length', 'checkpoint_problem',
    'enable_amp',
    'find_resumable_checkpoint', 'hold_work_dir', 'load_model_checkpoint',
    'load_run_config', 'parse_runner_args', 'read_checkpoint', 'read_config',
    'setup_cpu_distributed', 'verify_checkpoint'
]
