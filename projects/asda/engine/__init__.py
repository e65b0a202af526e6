from .launch import (
    add_runner_args,
    enable_amp,
    load_run_config,
    parse_runner_args,
    setup_cpu_distributed,
)
from .optim_wrapper import CPUAutocastOptimWrapper

__all__ = [
    'CPUAutocastOptimWrapper', 'add_runner_args', 'enable_amp',
    'load_run_config', 'parse_runner_args', 'setup_cpu_distributed'
]
