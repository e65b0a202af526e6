"""Converters of users' annotations into the refer format (COCO instances
with expression rows, mask PNGs with expression rows, labelme JSON), the
one reader of expression rows (:mod:`.rows`) and the writer of the refer
layout (:mod:`.builder`). ``tools/dataset_converters/*_to_refer.py`` run
them; ``docs/custom_data.md`` walks through them."""
from .builder import DEFAULT_SPLIT_RATIOS, ReferBuilder, assign_splits, split_counts
from .coco import coco_builder
from .labelme import labelme_builder
from .masks import masks_builder, read_mask_png
from .rows import ConversionError, Row, read_rows

__all__ = ['ConversionError', 'Row', 'read_rows', 'ReferBuilder', 'assign_splits',
           'split_counts', 'DEFAULT_SPLIT_RATIOS', 'coco_builder', 'masks_builder',
           'labelme_builder', 'read_mask_png']
