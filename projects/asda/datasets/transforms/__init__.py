from .flip import ReferringRandomFlip, swap_left_right
from .formatting import REFERRING_META_KEYS, PackReferringInputs
from .loading import LoadReferringAnnotations, LoadReferringImage
from .resize import ReferringResize

__all__ = [
    'LoadReferringImage', 'LoadReferringAnnotations', 'ReferringRandomFlip',
    'ReferringResize', 'PackReferringInputs', 'swap_left_right',
    'REFERRING_META_KEYS'
]
