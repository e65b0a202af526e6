"""Packing referring samples into mmseg's ``SegDataSample``."""
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

__all__ = ['PackReferringInputs', 'REFERRING_META_KEYS']

#: Meta keys a referring data sample carries: mmseg's usual ones plus the
#: expression, its ids and (gRefCOCO) whether it has no target.
REFERRING_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                       'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                       'reduce_zero_label', 'text', 'ref_id', 'ann_id',
                       'sent_id', 'image_id', 'no_target')


@TRANSFORMS.register_module()
class PackReferringInputs(PackSegInputs):
    """Pack a referring sample: ``dict(inputs, data_samples)``.

    ``inputs`` is the (C, H, W) image tensor (uint8 if the image is);
    ``data_samples`` a ``SegDataSample`` with ``gt_sem_seg`` (1, H, W) int64
    (0 background, 1 object) and the metainfo keys of
    :data:`REFERRING_META_KEYS` that are present. ``flip`` defaults to False
    and ``flip_direction`` to None when no flip transform ran.
    """

    def __init__(self, meta_keys=REFERRING_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        results.setdefault('flip', False)
        results.setdefault('flip_direction', None)
        return super().transform(results)
