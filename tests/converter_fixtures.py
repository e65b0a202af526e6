"""Small inputs of the dataset converters, one of each format: mask PNGs
(binary, 8- and 16-bit instance ids, palette, RGBA), a COCO instances file
(polygons and RLE, from the synthetic dataset) and labelme files (polygon,
rectangle, circle, a group), each with the mask every expression must load
as; and a training step on converted data."""
import json
import os
import os.path as osp
import pickle
import shutil

import numpy as np
from PIL import Image

from asda.datasets.converters.labelme import shape_polygon
from asda.datasets.mask_utils import decode_segmentation


def _image(path, h, w, seed):
    rgb = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)


def _rect(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def write_rows(path, rows):
    """``rows`` (dicts) as JSON Lines, or as CSV when ``path`` ends in .csv
    (lists written ``a;b``)."""
    if str(path).endswith('.csv'):
        import csv
        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(path, 'w', newline='') as f:
            writer = csv.DictWriter(f, keys)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: ';'.join(map(str, v)) if isinstance(v, list) else v
                                 for k, v in r.items()})
    else:
        with open(path, 'w') as f:
            f.writelines(json.dumps(r) + '\n' for r in rows)
    return str(path)


def mask_fixture(root):
    """Images, mask PNGs of every kind and the rows naming them.

    Returns:
        dict: ``image_dir``, ``mask_dir``, ``rows`` and ``expected``:
        expression -> (image file, (H, W) bool mask).
    """
    images, masks = osp.join(root, 'images'), osp.join(root, 'masks')
    os.makedirs(images)
    os.makedirs(masks)
    sizes = dict(a=(30, 40), b=(30, 40), c=(36, 32), d=(28, 28), e=(32, 30))
    for k, (name, (h, w)) in enumerate(sizes.items()):
        _image(osp.join(images, f'{name}.png'), h, w, k)
    expected = {}
    a0 = _rect(30, 40, 2, 12, 3, 20)
    a1 = _rect(30, 40, 15, 28, 22, 39)
    a1[15:18, 22:25] = False  # not a rectangle
    Image.fromarray(a0.astype(np.uint8) * 255).save(osp.join(masks, 'a_0.png'))
    Image.fromarray(a1.astype(np.uint8)).save(osp.join(masks, 'a_1.png'))  # 0 / 1
    ids = np.zeros((30, 40), np.uint8)
    ids[1:9, 1:9] = 1
    ids[10:25, 12:30] = 2
    ids[26:29, 2:6] = 7  # an instance no row names
    Image.fromarray(ids).save(osp.join(masks, 'b_ids.png'))
    ids16 = np.zeros((36, 32), np.uint16)
    ids16[3:20, 4:15] = 300
    ids16[22:34, 16:30] = 1000
    Image.fromarray(ids16).save(osp.join(masks, 'c_ids.png'))
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., 3] = 255  # opaque everywhere: only the colour says the object
    rgba[5:15, 6:20, :3] = 255
    Image.fromarray(rgba).save(osp.join(masks, 'd.png'))
    palette = Image.fromarray(np.where(_rect(32, 30, 4, 20, 5, 25), 3, 0).astype(np.uint8),
                              mode='P')
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    palette.save(osp.join(masks, 'e_ids.png'))
    rows = [
        dict(image='a.png', expression='the upper left block', mask='a_0.png', id='r1'),
        dict(image='a.png', expression='top left  one', mask='a_0.png', category='block'),
        dict(image='a.png', expression='the notched block', mask='a_1.png'),
        dict(image='b.png', expression='small square', mask='b_ids.png', instance_id=1),
        dict(image='b.png', expression='the big one', mask='b_ids.png', instance_id=2),
        dict(image='c.png', expression='the 300 region', mask='c_ids.png', instance_id=300),
        dict(image='c.png', expression='the 1000 region', mask='c_ids.png', instance_id=1000),
        dict(image='d.png', expression='the white patch', mask='d.png'),
        dict(image='e.png', expression='the palette shape', mask='e_ids.png', instance_id=3),
    ]
    expected.update({
        'the upper left block': ('a.png', a0), 'top left one': ('a.png', a0),
        'the notched block': ('a.png', a1), 'small square': ('b.png', ids == 1),
        'the big one': ('b.png', ids == 2), 'the 300 region': ('c.png', ids16 == 300),
        'the 1000 region': ('c.png', ids16 == 1000),
        'the white patch': ('d.png', rgba[..., 0] > 0),
        'the palette shape': ('e.png', _rect(32, 30, 4, 20, 5, 25))})
    return dict(image_dir=images, mask_dir=masks, rows=rows, expected=expected)


def coco_fixture(root, synthetic_root):
    """The first three and the last three images of a synthetic refer
    dataset (train, and val / testA / testB) as COCO instances + expression
    rows (its unc splits kept).

    Returns:
        dict: ``instances``, ``image_dir``, ``rows``, ``coco`` (the
        instances' content) and ``expected``: expression -> (file name,
        mask decoded from the source segmentation).
    """
    with open(osp.join(synthetic_root, 'refcoco', 'instances.json')) as f:
        coco = json.load(f)
    with open(osp.join(synthetic_root, 'refcoco', 'refs(unc).p'), 'rb') as f:
        refs = pickle.load(f)
    keep = {img['id'] for img in coco['images'][:3] + coco['images'][-3:]}
    images = {img['id']: img for img in coco['images'] if img['id'] in keep}
    coco = dict(coco, images=list(images.values()),
                annotations=[a for a in coco['annotations'] if a['image_id'] in keep])
    anns = {a['id']: a for a in coco['annotations']}
    image_dir = osp.join(root, 'coco_images')
    os.makedirs(image_dir)
    for img in images.values():
        shutil.copy(osp.join(synthetic_root, 'images', img['file_name']), image_dir)
    instances = osp.join(root, 'instances.json')
    with open(instances, 'w') as f:
        json.dump(coco, f)
    rows, expected = [], {}
    for ref in refs:
        if ref['image_id'] not in keep:
            continue
        img, ann = images[ref['image_id']], anns[ref['ann_id']]
        mask = decode_segmentation(ann['segmentation'], img['height'], img['width'])
        for s in ref['sentences']:
            if s['sent'] in expected:  # the same words on two objects
                continue
            rows.append(dict(image=img['file_name'], ann_id=ann['id'],
                             expression=s['sent'], split=ref['split']))
            expected[s['sent']] = (img['file_name'], mask.astype(bool))
    return dict(instances=instances, image_dir=image_dir, rows=rows, coco=coco,
                expected=expected)


def _labelme_file(folder, name, h, w, shapes, seed):
    _image(osp.join(folder, f'{name}.jpg'), h, w, seed)
    data = dict(version='5.4.1', flags={}, shapes=shapes, imagePath=f'{name}.jpg',
                imageData=None, imageHeight=h, imageWidth=w)
    with open(osp.join(folder, f'{name}.json'), 'w') as f:
        json.dump(data, f)


def _shape(points, label='thing', description='', shape_type='polygon', group_id=None):
    return dict(label=label, points=points, group_id=group_id, description=description,
                shape_type=shape_type, flags={})


def labelme_fixture(root):
    """Three labelme files (one in a subfolder).

    Returns:
        dict: ``labelme_dir`` and ``expected``: expression -> (file name,
        the COCO polygons the object is stored as).
    """
    folder = osp.join(root, 'labelme')
    os.makedirs(osp.join(folder, 'more'))
    tri = [[2, 2], [20, 3], [8, 18]]
    _labelme_file(folder, 'p', 24, 30, [
        _shape(tri, 'cat', 'the cat on the left\nthe striped cat'),
        _shape([[22, 4], [28, 20]], 'box', 'the box', 'rectangle'),
        _shape([[5, 20], [12, 20], [12, 23]], 'cat'),  # named by no expression
    ], 0)
    # two parts of one object (group 1) and a circle
    _labelme_file(folder, 'q', 26, 26, [
        _shape([[1, 1], [9, 1], [9, 9], [1, 9]], 'dog', 'the split dog', group_id=1),
        _shape([[12, 1], [20, 1], [20, 9]], 'dog', '', group_id=1),
        _shape([[15, 18], [15, 24]], 'ball', 'the ball', 'circle'),
    ], 1)
    _labelme_file(osp.join(folder, 'more'), 'r', 20, 22, [
        _shape([[0, 0], [21, 0], [21, 10], [0, 10]], 'sky', 'the upper half'),
    ], 2)
    flat = [v for p in tri for v in p]
    # a circle's corners: the converter's one rule
    circle = shape_polygon(_shape([[15, 18], [15, 24]], shape_type='circle'))
    expected = {
        'the cat on the left': ('p.jpg', [flat]), 'the striped cat': ('p.jpg', [flat]),
        'the box': ('p.jpg', [[22, 4, 28, 4, 28, 20, 22, 20]]),
        'the split dog': ('q.jpg', [[1, 1, 9, 1, 9, 9, 1, 9], [12, 1, 20, 1, 20, 9]]),
        'the ball': ('q.jpg', [circle]),
        'the upper half': ('more/r.jpg', [[0, 0, 21, 0, 21, 10, 0, 10]])}
    return dict(labelme_dir=folder, expected=expected)


def loaded_masks(data_root, split_file='refcoco/refs(unc).p', gres=False,
                 ann_file=None):
    """Every expression of a converted folder as the dataset loads it:
    text -> (file name, (H, W) bool mask), over all its splits."""
    from mmseg.registry import DATASETS

    from asda.datasets.refs_io import load_refs
    ann_file = ann_file or osp.join(osp.dirname(split_file), 'instances.json')
    splits = sorted({r['split'] for r in load_refs(osp.join(data_root, split_file))})
    found = {}
    for split in splits:
        dataset = DATASETS.build(dict(
            type='GRefCOCODataset' if gres else 'RefCOCODataset', data_root=data_root,
            ann_file=ann_file, split_file=split_file, data_prefix=dict(img_path='images/'),
            split=split, pipeline=[dict(type='LoadReferringAnnotations')]))
        for i in range(len(dataset)):
            sample = dataset[i]
            name = osp.relpath(sample['img_path'], osp.join(data_root, 'images'))
            found[sample['text']] = (name.replace(osp.sep, '/'),
                                     sample['gt_seg_map'].astype(bool))
    return found
