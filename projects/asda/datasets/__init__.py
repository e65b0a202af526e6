from .grefcoco import GRefCOCODataset
from .image_check import BadImagesError, check_images, image_problem
from .joint import JointReferringDataset
from .mask_utils import check_segmentation, decode_segmentation
from .refcoco import RefCOCODataset
from .refs_io import RestrictedUnpickler, load_refs
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms

__all__ = [
    'RefCOCODataset', 'GRefCOCODataset', 'JointReferringDataset', 'RestrictedUnpickler',
    'load_refs', 'BadImagesError',
    'check_images', 'image_problem',
    'check_segmentation', 'decode_segmentation'
] + _transforms
