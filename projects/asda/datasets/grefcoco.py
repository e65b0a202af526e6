"""gRefCOCO (generalized referring expressions: several targets or none)."""
from typing import List

from mmseg.registry import DATASETS

from .refcoco import RefCOCODataset
from .refs_io import Instances

__all__ = ['GRefCOCODataset', 'gref_target_ids']

#: The ``ann_id`` / ``category_id`` entry that marks a no-target gref.
NO_TARGET_ID = -1


def _as_list(value) -> list:
    """``value`` as a list: a list or tuple as is, None as ``[]``, any other
    value as ``[value]``."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def gref_target_ids(ref: dict, where: str = '') -> List[int]:
    """A gref's target annotation ids, ``[]`` for no target (``ann_id``
    ``[-1]``, ``-1`` or ``[]``): the one owner of that rule, which the
    dataset, the text-only control and ``check_refer_data.py`` ask. Every
    other id must be an int; a ``no_target`` field, where present (and not
    None), must be a bool that agrees.

    Raises:
        ValueError: an id is not an int, ``ann_id`` mixes -1 with
            annotation ids, or ``no_target`` is not a bool or contradicts
            ``ann_id`` (``where`` names the gref).
    """
    where = where or f'ref_id={ref.get("ref_id")}'
    ids = _as_list(ref['ann_id'])
    for ann_id in ids:
        if isinstance(ann_id, bool) or not isinstance(ann_id, int):
            raise ValueError(f'{where}: annotation id {ann_id!r} is not an '
                             'integer')
    if NO_TARGET_ID in ids:
        if len(ids) > 1:
            raise ValueError(
                f'{where}: ann_id={ref["ann_id"]!r} mixes {NO_TARGET_ID} '
                f'(no target) with annotation ids')
        ids = []
    flag = ref.get('no_target')
    if flag is not None and not isinstance(flag, bool):
        raise ValueError(f'{where}: no_target must be a bool (true / false), '
                         f'got {flag!r}')
    if flag is not None and flag != (not ids):
        raise ValueError(
            f'{where}: no_target={flag!r} contradicts '
            f'ann_id={ref["ann_id"]!r}')
    return ids


@DATASETS.register_module()
class GRefCOCODataset(RefCOCODataset):
    """gRefCOCO: expressions that refer to several objects or to none.

    ::

        data_root/train2014/*.jpg                       images
        data_root/grefcoco/instances.json               COCO annotations
        data_root/grefcoco/grefs(unc).json              grefs (or a pickle)

    A gref is a ref (see :class:`RefCOCODataset`) whose ``ann_id`` and
    ``category_id`` are lists (a scalar is accepted). ``ann_id == [-1]``
    (or an empty list) marks a no-target expression; a gref may also carry
    ``no_target``, which must agree. The grefs file is read by
    :func:`~.refs_io.load_refs`: JSON, or a pickle through the safe
    unpickler.

    Every data info holds the fields of :class:`RefCOCODataset` except
    ``segmentation``, and

    * ``ann_id``: list[int], the target annotations (``[]`` for no target);
    * ``category_id``: list[int] (``[]`` for no target);
    * ``no_target``: bool;
    * ``segmentations``: the COCO ``segmentation`` of every listed
      annotation that is not ``iscrowd`` (left out as the GRES API does; a
      gref whose targets are all ``iscrowd`` is refused: :meth:`ref_problems`).

    :class:`LoadReferringAnnotations` decodes ``segmentations`` to their
    union, an all-zero mask for a no-target expression.

    Args:
        data_root (str, optional): Root of ``ann_file``, ``split_file`` and
            ``data_prefix``.
        ann_file (str): COCO ``instances.json``.
        split_file (str): The grefs file (``.json`` or pickle).
        *args: The other arguments of :class:`RefCOCODataset`, in its order
            (``data_prefix``, ``split``, ``sample_mode``, ...).
        **kwargs: Arguments of :class:`RefCOCODataset` (``split``,
            ``sample_mode``, ``skip_invalid_polygons``, ``check_images``,
            ``skip_bad_samples``, ``allow_outside_paths``, ...) and
            :class:`BaseSegDataset`.
    """

    def __init__(self,
                 data_root=None,
                 ann_file: str = 'grefcoco/instances.json',
                 split_file: str = 'grefcoco/grefs(unc).json',
                 *args,
                 **kwargs) -> None:
        super().__init__(data_root, ann_file, split_file, *args, **kwargs)

    target_ids = staticmethod(gref_target_ids)
    skip_crowd_targets = True

    @classmethod
    def ref_problems(cls, ref: dict, instances: Instances, refs_file: str,
                     skip_invalid_polygons: bool = False) -> List[str]:
        """:meth:`RefCOCODataset.ref_problems`, and a gref whose targets
        are all ``iscrowd`` is refused: its mask (crowd regions are left
        out) would be empty although it has targets, so no prediction could
        score on it. The GRES API's data mapper refuses such a gref too
        (it asserts that a sample without a non-crowd target is a
        no-target one)."""
        problems = super().ref_problems(ref, instances, refs_file,
                                        skip_invalid_polygons)
        if problems:
            return problems
        ids = cls.target_ids(ref)
        if ids and not cls.mask_ann_ids(ids, instances.anns):
            problems.append(
                f'ref_id={ref["ref_id"]} of {refs_file}: every target annotation '
                f'({ids}) is iscrowd in {instances.path}, so its mask would be '
                'empty; mark it no-target (ann_id [-1]) or name a non-crowd one')
        return problems

    def ref_targets(self, ref: dict, img: dict, anns: dict) -> dict:
        """The target fields of one checked gref's data info.

        Args:
            ref (dict): The gref (it passed :meth:`ref_problems`).
            img (dict): Its COCO image.
            anns (dict): COCO annotations by id.

        Returns:
            dict: ``ann_id`` (list), ``category_id`` (list), ``no_target``
            and ``segmentations`` (the checked segmentation of every
            non-crowd target annotation).
        """
        ids = self.target_ids(ref)
        categories = [anns[ann_id].get('category_id') for ann_id in ids]
        segmentations = [self._checked_segmentation(anns[ann_id], img, ref)
                         for ann_id in self.mask_ann_ids(ids, anns)]
        given = [c for c in _as_list(ref.get('category_id'))
                 if c != NO_TARGET_ID]
        return dict(
            ann_id=ids,
            category_id=(given or categories) if ids else [],
            no_target=not ids,
            segmentations=segmentations)
