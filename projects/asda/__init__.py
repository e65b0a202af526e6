"""ASDA (Adaptive Selection with Dual Alignment) for referring image
segmentation, as an OpenMMLab 2.x plugin.

Importing ``asda`` first applies :mod:`asda.compat` (mmcv-lite fallback ops,
checkpoint allow-list), then registers every component in mmseg's registries.
"""
from . import compat

compat.apply()

from . import engine  # noqa: E402,F401  (registers the optim wrapper)
from .apis import *  # noqa: E402,F401,F403
from .apis import __all__ as _apis  # noqa: E402
from .datasets import *  # noqa: E402,F401,F403
from .datasets import __all__ as _datasets  # noqa: E402
from .evaluation import *  # noqa: E402,F401,F403
from .evaluation import __all__ as _evaluation  # noqa: E402
from .models import *  # noqa: E402,F401,F403
from .models import __all__ as _models  # noqa: E402
from .visualization import *  # noqa: E402,F401,F403
from .visualization import __all__ as _visualization  # noqa: E402

__version__ = '0.1.0'

__all__ = (['compat', '__version__'] + _models + _datasets + _evaluation + _apis +
           _visualization)
