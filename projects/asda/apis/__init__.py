"""High-level inference API: image + expression -> mask."""
from .. import visualization  # noqa: F401  (registers RISLocalVisualizer)
from .inference import (
    ExpressionTruncatedWarning,
    RISInferencer,
    check_expressions,
    init_model,
    load_image,
)

__all__ = [
    'RISInferencer', 'ExpressionTruncatedWarning', 'init_model', 'load_image',
    'check_expressions'
]
