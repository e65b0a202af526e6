"""RefCOCO / RefCOCO+ / G-Ref in the refer release's format."""
from typing import Any, List, Optional, Tuple

import numpy as np
from mmengine import fileio
from mmengine.utils import is_abs
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS, TRANSFORMS

from .image_check import BadImagesError, check_images, describe_bad_samples
from .mask_utils import annotation_segmentation, mask_area
from .refs_io import Instances, describe_problems, index_instances, load_refs, refs_with_sentences

__all__ = ['RefCOCODataset', 'empty_target_problems', 'ref_ann_ids']

SAMPLE_MODES = ('sentence', 'ref')
#: The ``category_id`` of a no-target gref (gRefCOCO writes ``[-1]``).
NO_CATEGORY = -1


def ref_ann_ids(ref: dict, where: str = '') -> List[int]:
    """A refer ref's target annotation id, as a list: its ``ann_id``, which
    must be an int (the rule :class:`RefCOCODataset` applies; gRefCOCO's is
    :func:`asda.datasets.grefcoco.gref_target_ids`).

    Raises:
        ValueError: ``ann_id`` is not an int (``where`` names the ref).
    """
    ann_id = ref['ann_id']
    if isinstance(ann_id, bool) or not isinstance(ann_id, int):
        raise ValueError(f'{where or "ref_id=" + str(ref.get("ref_id"))}: '
                         f'annotation id {ann_id!r} is not an integer')
    return [ann_id]


def _image_problems(ref: dict, instances: Instances, where: str) -> List[str]:
    image_id = ref['image_id']
    if image_id in instances.broken_image_ids:
        return [f'{where} refers to image id={image_id}, whose entry in '
                f'{instances.path} is malformed']
    if image_id not in instances.images:
        return [f'{where} refers to image id={image_id}, which is missing from '
                f'{instances.path}']
    return []


def _annotation_problems(ref: dict, ids: List[int], instances: Instances,
                         where: str) -> List[str]:
    """Each target annotation exists and lies on the ref's image."""
    problems = []
    for ann_id in ids:
        ann = instances.anns.get(ann_id)
        if ann is None:
            problems.append(f'{where} refers to annotation id={ann_id}, which is '
                            f'missing from {instances.path}')
        elif ann.get('image_id', ref['image_id']) != ref['image_id']:
            problems.append(
                f'{where}: annotation id={ann_id} belongs to image '
                f'id={ann["image_id"]} in {instances.path}, not to image '
                f'id={ref["image_id"]}')
    return problems


def _mask_segmentations(ref: dict, ids: List[int], instances: Instances, where: str,
                        skip_invalid_polygons: bool) -> Tuple[List[str], List[Any]]:
    """The problems of the segmentations of ``ids`` (existing annotations
    of the ref's indexed image) by the mask rules
    (:func:`~.mask_utils.annotation_segmentation`), and the checked
    segmentations when there is none."""
    img = instances.images[ref['image_id']]
    problems, segmentations = [], []
    for ann_id in ids:
        ann = instances.anns[ann_id]
        try:
            segmentations.append(annotation_segmentation(
                ann, img['height'], img['width'],
                skip_invalid_polygons=skip_invalid_polygons)[0])
        except ValueError as err:
            problems.append(f'{where}: annotation id={ann_id} of {instances.path}: {err}')
    return problems, segmentations


def empty_target_problems(ref: dict, mask_ids: List[int], segmentations: List[Any],
                          instances: Instances, where: str,
                          gres: bool = False) -> List[str]:
    """An expression with a target has a mask with a pixel: the union of
    the segmentations of its mask's annotations (``mask_ids``, from
    :meth:`RefCOCODataset.mask_ann_ids`; ``segmentations``, each checked by
    :func:`~.mask_utils.annotation_segmentation`), decoded at its image's
    size (:func:`~.mask_utils.mask_area`), is not empty. On an empty
    target, an empty prediction scores IoU 1: a zero-area polygon, or one
    lying wholly outside the image, would read as a perfect score. The one
    owner of this rule (the dataset and the data check ask it through
    :meth:`RefCOCODataset.ref_problems`); only a no-target gref (no
    annotation) has no mask; ``gres`` adds that to the message.
    """
    if not segmentations:
        return []
    img = instances.images[ref['image_id']]
    if mask_area(segmentations, img['height'], img['width']) != 0:
        return []
    return [f'{where}: its target mask is empty (annotation id(s) {mask_ids} in '
            f'{instances.path} cover no pixel of the {img["width"]} x '
            f'{img["height"]} image: zero area, or wholly outside it); an empty '
            'prediction would score IoU 1 on it. Fix the annotation or drop the ref'
            + ('; only a no-target gref (ann_id [-1]) may have no mask'
               if gres else '')]


def _category_problems(ref: dict, instances: Instances, where: str) -> List[str]:
    """Each given ``category_id`` (one or a list; None or -1: none) is a
    category of the instances file."""
    given = ref.get('category_id')
    return [f'{where}: category_id={category!r} is not a category of '
            f'{instances.path}'
            for category in (given if isinstance(given, (list, tuple)) else [given])
            if category not in (None, NO_CATEGORY) and (
                isinstance(category, bool) or not isinstance(category, int)
                or category not in instances.category_ids)]


@DATASETS.register_module()
class RefCOCODataset(BaseSegDataset):
    """Referring segmentation dataset in the refer release's format.

    ::

        data_root/train2014/*.jpg                       images
        data_root/refcoco/instances.json                COCO annotations
        data_root/refcoco/refs(unc).p                   refs pickle

    Covers RefCOCO / RefCOCO+ (``refs(unc).p``: train, val, testA, testB),
    G-Ref (``refs(umd).p``: train, val, test; ``refs(google).p``: train, val)
    and any other file of the same format.

    Every data info holds ``img_path``, ``ref_id``, ``ann_id``, ``sent_id``,
    ``image_id``, ``category_id``, ``text`` (the refs' ``sent``), the COCO
    ``segmentation`` and the image ``height``/``width``; the mask is decoded
    by :class:`LoadReferringAnnotations`.

    Loading checks the files by :mod:`.refs_io`'s rules and every ref of the
    split by :meth:`ref_problems` before any is used, and raises all the
    problems together; ``check_refer_data.py`` asks the same functions.

    Args:
        data_root (str, optional): Root of ``ann_file``, ``split_file`` and
            ``data_prefix``.
        ann_file (str): COCO ``instances.json``.
        split_file (str): The refs pickle.
        data_prefix (dict, optional): ``img_path``: the image folder.
            Defaults to ``dict(img_path='train2014/')``.
        split (str): Which split to load (``ref['split']``).
        sample_mode (str): ``'sentence'``: one sample per expression;
            ``'ref'``: one sample per ref, whose expression is drawn at random
            (``np.random``) on each access.
        skip_invalid_polygons (bool): Drop polygon parts with fewer than 3
            points (with a warning) instead of raising. Defaults to False.
        check_images (bool): Before anything runs, check every image of the
            split (exists, decodes to its end, its header gives the
            annotated size: :mod:`.image_check`) and
            raise :class:`BadImagesError` listing all the bad ones with their
            ref / sentence ids. Defaults to True.
        skip_bad_samples (bool): Instead of raising, drop the samples of bad
            images and go on; they are listed in the log and in
            ``metainfo['skipped_samples']`` (which :class:`RISMetric` reports
            as "N of M expressions"). When every sample is bad,
            :class:`BadImagesError` says "all N samples ... were skipped".
            Defaults to False.
        allow_outside_paths (bool): Accept an ``instances.json``
            ``file_name`` that is absolute or climbs out of the image folder
            with ``..``. The check is lexical (symbolic links are not
            followed): an image folder that links elsewhere needs no option.
            Defaults to False.
        **kwargs: :class:`BaseSegDataset` arguments (``pipeline``,
            ``serialize_data``, ``lazy_init``, ``test_mode``, ``indices``,
            ``backend_args``, ...).
    """
    METAINFO = dict(
        classes=('background', 'object'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = 'refcoco/instances.json',
                 split_file: str = 'refcoco/refs(unc).p',
                 data_prefix: Optional[dict] = None,
                 split: str = 'val',
                 sample_mode: str = 'sentence',
                 skip_invalid_polygons: bool = False,
                 check_images: bool = True,
                 skip_bad_samples: bool = False,
                 reduce_zero_label: bool = False,
                 allow_outside_paths: bool = False,
                 **kwargs) -> None:
        if data_prefix is None:
            data_prefix = dict(img_path='train2014/')
        if sample_mode not in SAMPLE_MODES:
            raise ValueError(f'sample_mode must be one of {SAMPLE_MODES}, '
                             f'got {sample_mode!r}')
        if reduce_zero_label:
            raise ValueError('RefCOCODataset masks are 0/1: reduce_zero_label '
                             'must be False')
        self.split_file = split_file
        self.split = split
        self.sample_mode = sample_mode
        self.skip_invalid_polygons = skip_invalid_polygons
        self.check_images = check_images
        self.skip_bad_samples = skip_bad_samples
        self.allow_outside_paths = allow_outside_paths
        # Build transform configs from mmseg's registry, so the dataset works
        # without mmseg as default scope (the Runner sets it anyway).
        kwargs['pipeline'] = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in kwargs.get('pipeline', [])
        ]
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            reduce_zero_label=False,
            **kwargs)

    def _join_prefix(self) -> None:
        super()._join_prefix()
        if self.split_file and not is_abs(self.split_file) and \
                self.data_root:
            self.split_file = fileio.join_path(self.data_root,
                                               self.split_file)

    # ------------------------------------------------------------------
    #: The rule for a ref's target annotation ids (:func:`ref_ann_ids`).
    target_ids = staticmethod(ref_ann_ids)
    #: Whether crowd annotations are left out of the target mask.
    skip_crowd_targets = False

    @classmethod
    def mask_ann_ids(cls, ids: List[int], anns: dict) -> List[int]:
        """The target annotations whose masks make a ref's mask: ``ids``,
        without the ``iscrowd`` ones when :attr:`skip_crowd_targets`
        (gRefCOCO, as the GRES API)."""
        return [i for i in ids
                if not (cls.skip_crowd_targets and anns[i].get('iscrowd', 0))]

    @classmethod
    def ref_problems(cls, ref: dict, instances: Instances, refs_file: str,
                     skip_invalid_polygons: bool = False) -> List[str]:
        """What is wrong with a ref (one that passes
        :func:`~.refs_io.ref_problems`) given the COCO instances: its target
        ids (:attr:`target_ids`), its image, every target annotation (it
        exists and lies on the ref's image), the ``segmentation`` of each
        annotation of its mask (:meth:`mask_ann_ids`;
        :func:`~.mask_utils.annotation_segmentation`), a mask that is not
        empty (:func:`empty_target_problems`) and its ``category_id`` s
        (each a category of the instances file, ``-1`` meaning none). The
        dataset raises on them; ``check_refer_data.py`` lists them.

        Args:
            ref (dict): The ref.
            instances (Instances): The checked instances
                (:func:`~.refs_io.index_instances`).
            refs_file (str): The refs file, named in the problems.
            skip_invalid_polygons (bool): Polygon parts with fewer than 3
                points are dropped, not problems (the dataset's option).

        Returns:
            list[str]: The problems, each naming the ref and the files.
        """
        where = f'ref_id={ref["ref_id"]} of {refs_file}'
        problems = _image_problems(ref, instances, where)
        try:
            ids = cls.target_ids(ref, where)
        except ValueError as err:
            return problems + [str(err)]
        problems += _annotation_problems(ref, ids, instances, where)
        if not problems:
            mask_ids = cls.mask_ann_ids(ids, instances.anns)
            problems, segmentations = _mask_segmentations(
                ref, mask_ids, instances, where, skip_invalid_polygons)
            if not problems:
                problems = empty_target_problems(ref, mask_ids, segmentations, instances,
                                                 where, cls.skip_crowd_targets)
        return problems + _category_problems(ref, instances, where)

    def _load_instances(self) -> Instances:
        """The checked images and annotations of ``ann_file``."""
        if not fileio.exists(self.ann_file, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'annotation file not found: {self.ann_file}')
        coco = fileio.load(
            self.ann_file, file_format='json', backend_args=self.backend_args)
        instances, problems = index_instances(coco, self.ann_file,
                                              self.allow_outside_paths)
        if problems:
            raise ValueError(describe_problems(problems))
        return instances

    def _checked_segmentation(self, ann: dict, img: dict, ref: dict):
        context = (f'{self.ann_file}, annotation id={ann["id"]}, '
                   f'ref_id={ref["ref_id"]}')
        seg, dropped = annotation_segmentation(
            ann, img['height'], img['width'], context, self.skip_invalid_polygons)
        if dropped:
            from mmengine.logging import print_log
            print_log(f'dropped {dropped} polygon part(s) with fewer than 3 points '
                      f'({context})', logger='current', level=30)
        return seg

    def ref_targets(self, ref: dict, img: dict, anns: dict) -> dict:
        """The target fields of one checked ref's data info.

        Args:
            ref (dict): The ref (it passed :meth:`ref_problems`).
            img (dict): Its COCO image.
            anns (dict): COCO annotations by id.

        Returns:
            dict: ``ann_id``, ``category_id`` and the checked COCO
            ``segmentation`` of the referred annotation.
        """
        ann = anns[ref['ann_id']]
        return dict(
            ann_id=ref['ann_id'],
            category_id=ref.get('category_id', ann.get('category_id')),
            segmentation=self._checked_segmentation(ann, img, ref))

    def image_path(self, img: dict) -> str:
        """The path of a COCO image entry's file: its ``file_name`` under
        the image folder (``data_prefix['img_path']``)."""
        img_dir = self.data_prefix.get('img_path', '') or ''
        return fileio.join_path(img_dir, img['file_name']) if img_dir else img['file_name']

    def ref_info(self, ref: dict, instances: Instances) -> dict:
        """The data info of one checked ref, without its sentences.

        Args:
            ref (dict): The ref (it passed :meth:`ref_problems`).
            instances (Instances): The checked COCO instances.

        Returns:
            dict: Image fields (``img_path``, ``height``, ...), ``ref_id``,
            ``image_id`` and the fields of :meth:`ref_targets`.
        """
        img = instances.images[ref['image_id']]
        info = dict(
            img_path=self.image_path(img),
            seg_map_path=None,
            ref_id=ref['ref_id'],
            image_id=ref['image_id'],
            height=img['height'],
            width=img['width'],
            label_map=self.label_map,
            reduce_zero_label=False,
            seg_fields=[])
        info.update(self.ref_targets(ref, img, instances.anns))
        return info

    def load_data_list(self) -> List[dict]:
        """One data info per expression (or per ref in ``'ref'`` mode).
        Every ref of the split is checked (:meth:`ref_problems`) before any
        is used, and all the problems are raised together; refs without
        sentences give no sample (:func:`~.refs_io.refs_with_sentences`)."""
        refs = load_refs(self.split_file, backend_args=self.backend_args)
        available = sorted({ref['split'] for ref in refs})
        if self.split not in available:
            raise ValueError(
                f'unknown split {self.split!r} for {self.split_file}; '
                f'available splits: {available}')
        instances = self._load_instances()
        refs = self._with_sentences([ref for ref in refs if ref['split'] == self.split])
        problems = [p for ref in refs
                    for p in self.ref_problems(ref, instances, self.split_file,
                                               self.skip_invalid_polygons)]
        if problems:
            raise ValueError(describe_problems(problems))

        data_list = []
        for ref in refs:
            info = self.ref_info(ref, instances)
            sentences = [(s['sent_id'], s['sent']) for s in ref['sentences']]
            if self.sample_mode == 'ref':
                data_list.append(dict(info, sentences=sentences))
            else:
                for sent_id, sent in sentences:
                    data_list.append(dict(info, sent_id=sent_id, text=sent))
        return data_list

    def _with_sentences(self, refs: List[dict]) -> List[dict]:
        """``refs`` without those that have no sentences, named in a
        warning."""
        kept, empty = refs_with_sentences(refs)
        if empty:
            from mmengine.logging import print_log
            print_log(f'{len(empty)} ref(s) of split {self.split!r} have no sentences '
                      f'and give no sample: ref_id {[r["ref_id"] for r in empty][:20]} '
                      f'({self.split_file})', logger='current', level=30)
        return kept

    def filter_data(self) -> List[dict]:
        """The pre-flight image check (``check_images``); see the class."""
        data_list = super().filter_data()
        total = len(data_list)
        self._metainfo.update(num_samples_total=total, skipped_samples=[])
        if not self.check_images or not data_list:
            return data_list
        from mmengine.logging import print_log

        def progress(done, count):
            print_log(f'checking the images of split {self.split!r}: '
                      f'{done}/{count}', logger='current')

        problems = check_images(
            (info['img_path'] for info in data_list),
            backend_args=self.backend_args,
            progress=progress if total >= 1000 else None,
            sizes={info['img_path']: (info['height'], info['width'])
                   for info in data_list})
        if not problems:
            return data_list
        bad = [dict(img_path=info['img_path'], ref_id=info['ref_id'],
                    sent_id=info.get('sent_id'), reason=problems[info['img_path']])
               for info in data_list if info['img_path'] in problems]
        where = f'split {self.split!r} of {self.split_file}'
        message = describe_bad_samples(bad, total, where)
        if not self.skip_bad_samples:
            raise BadImagesError(
                message + '\nFix or restore these files, or run on the rest '
                'with --skip-bad-samples (skip_bad_samples=True).')
        if len(bad) == total:  # nothing would run: an empty result, not 0
            raise BadImagesError(
                message + f'\nskip_bad_samples: all {total} samples of {where} '
                'were skipped; nothing is left to run on.')
        print_log(message + f'\nskip_bad_samples: running on the other '
                  f'{total - len(bad)} samples', logger='current', level=30)
        self._metainfo['skipped_samples'] = bad
        return [info for info in data_list if info['img_path'] not in problems]

    def get_data_info(self, idx: int) -> dict:
        """The idx-th data info; in ``'ref'`` mode with a random sentence."""
        info = super().get_data_info(idx)
        sentences = info.pop('sentences', None)
        if sentences is not None:
            sent_id, text = sentences[np.random.randint(len(sentences))]
            info['sent_id'] = sent_id
            info['text'] = text
        return info
