"""High-level inference API: image + expression -> mask."""
from .. import visualization  # noqa: F401  (registers RISLocalVisualizer)
from .demo_model import demo_model
from .image_io import DEFAULT_MAX_PIXELS, ImageTooLargeError
from .inference import (
    ExpressionTruncatedWarning,
    RISInferencer,
    check_expressions,
    init_model,
    load_image,
)

__all__ = [
    'RISInferencer', 'ExpressionTruncatedWarning', 'init_model', 'load_image',
    'check_expressions', 'DEFAULT_MAX_PIXELS', 'ImageTooLargeError', 'demo_model'
]
