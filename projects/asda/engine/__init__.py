from .launch import enable_amp, load_run_config, setup_cpu_distributed
from .optim_wrapper import CPUAutocastOptimWrapper

__all__ = [
    'CPUAutocastOptimWrapper', 'enable_amp', 'load_run_config',
    'setup_cpu_distributed'
]
