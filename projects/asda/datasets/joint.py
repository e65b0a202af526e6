"""Training on several referring datasets at once without leakage.

RefCOCO, RefCOCO+ and G-Ref all draw their images from COCO train2014, and
one dataset's val / test images are another's train images. Training on the
three train splits together would show the model the evaluation images.
:class:`JointReferringDataset` drops, from every member, each sample whose
image appears in an evaluation split: every split of a member's refs file
other than the one it trains on, and the splits of any further refs file
named in ``exclude``. It logs the dropped counts per member and keeps them
in ``metainfo['dropped']``.

An image is the same image when its path is (``img_path``, normalised): the
datasets of the refer release share ``train2014/`` under one data root.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np
from mmengine import fileio
from mmengine.dataset import BaseDataset, ConcatDataset, force_full_init
from mmengine.logging import print_log
from mmseg.registry import DATASETS

from .refs_io import describe_problems, index_instances, load_refs

__all__ = ['JointReferringDataset', 'image_key']

#: Metainfo keys that differ between the members (their own counts).
MEMBER_KEYS = ['num_samples_total', 'skipped_samples', 'dropped']
#: Shared arguments the ``exclude`` configs do not take.
MEMBER_ONLY = ('pipeline', 'split', 'sample_mode', 'test_mode')


def image_key(path: str) -> str:
    """The identity of an image: its path, normalised (a URL as it is)."""
    return path if '://' in path else osp.normpath(path)


def _label(dataset) -> str:
    """``refcoco+/refs(unc).p train``: a member or evaluation split."""
    split_file = str(dataset.split_file)
    return f'{osp.basename(osp.dirname(split_file))}/{osp.basename(split_file)}'


class _EvalImages:
    """The image keys of evaluation splits, each file read once."""

    def __init__(self):
        self._refs: Dict[str, list] = {}
        self._images: Dict[str, dict] = {}

    def refs(self, probe) -> list:
        if probe.split_file not in self._refs:
            self._refs[probe.split_file] = load_refs(probe.split_file,
                                                     backend_args=probe.backend_args)
        return self._refs[probe.split_file]

    def images(self, probe) -> dict:
        if probe.ann_file not in self._images:
            coco = fileio.load(probe.ann_file, file_format='json',
                               backend_args=probe.backend_args)
            instances, problems = index_instances(coco, probe.ann_file,
                                                  probe.allow_outside_paths)
            if instances is None or problems:
                raise ValueError(describe_problems(problems))
            self._images[probe.ann_file] = instances.images
        return self._images[probe.ann_file]

    def keys(self, probe, splits: Optional[Sequence[str]], skip: Optional[str]
             ) -> Tuple[Set[str], List[str]]:
        """The image keys of ``splits`` of the probe's refs file (None: all
        but ``skip``) and the splits read."""
        refs = self.refs(probe)
        found = sorted({r['split'] for r in refs})
        if splits is None:
            splits = [s for s in found if s != skip]
        missing = [s for s in splits if s not in found]
        if missing:
            raise ValueError(f'{probe.split_file} has no split {missing}; its splits: '
                             f'{found}')
        images = self.images(probe)
        keys = {image_key(probe.image_path(images[r['image_id']]))
                for r in refs if r['split'] in splits and r['image_id'] in images}
        return keys, list(splits)


@DATASETS.register_module()
class JointReferringDataset(ConcatDataset):
    """Several referring datasets (train splits) as one, without the images
    of any evaluation split, each sampled at its ratio.

    ``len`` is ``sum(round(ratio_i * len_i))`` over the members (after the
    drop): a ratio of 1 sees each sample of the member once an epoch, 2
    twice, 0.5 half of them (the fraction beyond the whole passes is drawn
    at random, ``np.random``, on each access, as ``sample_mode='ref'``
    draws its sentence), 0 none (its evaluation splits still count).

    Args:
        datasets (Sequence[dict | BaseDataset]): The members: referring
            datasets (:class:`RefCOCODataset` or a subclass; a config
            without ``type`` is a RefCOCODataset) of the splits to train on.
        ratios (Sequence[float], optional): Per member; defaults to 1 each.
        exclude (Sequence[dict]): Further evaluation splits: dataset configs
            (``type``, ``ann_file``, ``split_file``, ...) with ``splits`` (a
            list; default: all but ``train``).
        exclude_other_splits (bool): Drop the images of every split of each
            member's own refs file other than the one it trains on.
            Defaults to True.
        lazy_init (bool): Build and filter the members on first use.
        **shared: Dataset arguments every member config shares unless it
            sets them (``data_root``, ``data_prefix``, ``pipeline``,
            ``split``, ``sample_mode``, ...), so that a config inherits them
            from a single-dataset base; the ``exclude`` configs share them
            too, but for ``pipeline``, ``split``, ``sample_mode`` and
            ``test_mode``.
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, BaseDataset]],
                 ratios: Optional[Sequence[float]] = None,
                 exclude: Sequence[dict] = (),
                 exclude_other_splits: bool = True,
                 lazy_init: bool = False,
                 **shared):
        if not datasets:
            raise ValueError('JointReferringDataset needs at least one dataset')
        ratios = [1.0] * len(datasets) if ratios is None else [float(r) for r in ratios]
        if len(ratios) != len(datasets) or any(not r >= 0 for r in ratios):
            raise ValueError(f'ratios must be {len(datasets)} numbers >= 0 (one per '
                             f'dataset), got {ratios}')
        self.ratios = ratios
        shared = dict(type='RefCOCODataset', **shared)
        self.exclude = [dict({k: v for k, v in shared.items() if k not in MEMBER_ONLY},
                             **spec) for spec in exclude]
        self.exclude_other_splits = exclude_other_splits
        members = []
        for dataset in datasets:
            if isinstance(dataset, dict):
                dataset = DATASETS.build(dict(shared, **dataset, lazy_init=True))
            members.append(dataset)
        super().__init__(members, lazy_init=True, ignore_keys=list(MEMBER_KEYS))
        if not lazy_init:
            self.full_init()

    def _eval_keys(self) -> Tuple[Set[str], List[str]]:
        """The image keys of every evaluation split, and their names."""
        reader, keys, names = _EvalImages(), set(), []
        if self.exclude_other_splits:
            for member in self.datasets:
                found, splits = reader.keys(member, None, member.split)
                keys |= found
                names += [f'{_label(member)} {s}' for s in splits]
        for spec in self.exclude:
            spec = dict(spec)
            splits = spec.pop('splits', None)
            probe = DATASETS.build(dict(spec, lazy_init=True, pipeline=[]))
            found, splits = reader.keys(probe, splits, 'train')
            keys |= found
            names += [f'{_label(probe)} {s}' for s in splits]
        return keys, names

    def _drop(self, member, eval_keys: Set[str], sources: List[str]) -> dict:
        """Drop the member's samples whose image is in ``eval_keys``; log
        and return the counts."""
        paths = [image_key(BaseDataset.get_data_info(member, i)['img_path'])
                 for i in range(len(member))]
        keep = [i for i, p in enumerate(paths) if p not in eval_keys]
        dropped = {p for p in paths if p in eval_keys}
        counts = dict(dataset=f'{_label(member)} {member.split}', images=len(dropped),
                      total_images=len(set(paths)), samples=len(paths) - len(keep),
                      total_samples=len(paths))
        print_log(f'{counts["dataset"]}: dropped {counts["images"]} of '
                  f'{counts["total_images"]} images ({counts["samples"]} of '
                  f'{counts["total_samples"]} samples) that appear in an evaluation split '
                  f'({", ".join(sources)})', logger='current')
        if not keep:
            raise ValueError(f'{counts["dataset"]}: every sample\'s image is in an '
                             'evaluation split; nothing is left to train on')
        member.get_subset_(keep)
        return counts

    def full_init(self) -> None:
        """Build the members, drop the evaluation images, lay out the
        ratios."""
        if self._fully_initialized:
            return
        for member in self.datasets:
            member.full_init()
        eval_keys, sources = self._eval_keys()
        dropped = [self._drop(m, eval_keys, sources) for m in self.datasets]
        self._metainfo = dict(self.datasets[0].metainfo, dropped=dropped)
        self.sizes = [len(m) for m in self.datasets]
        self.counts = [int(round(r * n)) for r, n in zip(self.ratios, self.sizes)]
        self.cumulative_sizes = list(np.cumsum(self.counts))
        if not self.cumulative_sizes[-1]:
            raise ValueError(f'ratios {self.ratios} leave no sample to train on')
        self._fully_initialized = True

    @force_full_init
    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    @force_full_init
    def _get_ori_dataset_idx(self, idx: int) -> Tuple[int, int]:
        """The member and its sample for the joint index ``idx``; past the
        member's whole passes, a random one."""
        member, offset = super()._get_ori_dataset_idx(idx)
        size = self.sizes[member]
        if offset < size * (self.counts[member] // size):
            return member, offset % size
        return member, int(np.random.randint(size))
