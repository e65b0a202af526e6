"""What a generated folder's files show (importable by the synthetic tests,
whose folder pytest puts on sys.path): each object's colour read from the
image's pixels, its shape from its category, its centre and area from its
mask. The tests check the generators' expressions against this, not against
the generators' own records."""
import os.path as osp
from typing import Dict

import cv2
import numpy as np

from asda.synthetic.scenes import COLOURS


def nearest_colour(img: np.ndarray, mask: np.ndarray) -> str:
    """The colour of :data:`COLOURS` nearest to the mean of the BGR image
    ``img`` inside ``mask``, its border eroded (anti-aliased edges)."""
    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5))) > 0
    bgr = img[inner].mean(0)
    return min(COLOURS, key=lambda c: np.abs(np.array(COLOURS[c][::-1]) - bgr).sum())


def scenes_from_files(root: str, ann_subdir: str) -> Dict[int, dict]:
    """image id -> ``dict(w, h, objects, ann_ids)``, the objects (colour,
    shape, cx, cy, area; pixel centres) in annotation order."""
    from pycocotools.coco import COCO
    api = COCO(osp.join(root, ann_subdir, 'instances.json'))
    cats = {c['id']: c['name'] for c in api.dataset['categories']}
    scenes = {im['id']: dict(w=im['width'], h=im['height'], objects=[],
                             ann_ids=[]) for im in api.dataset['images']}
    for ann in api.dataset['annotations']:
        im = api.imgs[ann['image_id']]
        img = cv2.imread(osp.join(root, 'images', im['file_name']))
        mask = api.annToMask(ann) > 0
        ys, xs = np.nonzero(mask)
        scene = scenes[ann['image_id']]
        scene['objects'].append(dict(
            colour=nearest_colour(img, mask), shape=cats[ann['category_id']],
            cx=xs.mean() + 0.5, cy=ys.mean() + 0.5, area=int(mask.sum())))
        scene['ann_ids'].append(ann['id'])
    return scenes
