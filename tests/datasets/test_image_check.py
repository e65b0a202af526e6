"""The pre-flight image check: every image of a split, in parallel, all
problems at once, before any model runs; ``skip_bad_samples`` runs on the
rest."""
import glob
import os.path as osp
import pickle
import shutil

import cv2
import numpy as np
import pytest

from asda.datasets import BadImagesError, RefCOCODataset, check_images, image_problem


def _write(path, ext='.jpg'):
    img = np.random.RandomState(0).randint(0, 255, (32, 48, 3), np.uint8)
    path = str(path) + ext
    cv2.imwrite(path, img)
    return path


def _truncate(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.mark.parametrize('ext', ['.jpg', '.png', '.bmp'])
def test_image_problem_good_and_truncated(tmp_path, ext):
    path = _write(tmp_path / 'img', ext)
    assert image_problem(path) is None
    _truncate(path)
    problem = image_problem(path)
    assert problem is not None
    if ext != '.bmp':
        assert 'truncated' in problem


def test_image_problem_missing_empty_and_trailing_bytes(tmp_path):
    assert image_problem(str(tmp_path / 'absent.jpg')) == 'missing'
    (tmp_path / 'empty.jpg').write_bytes(b'')
    assert image_problem(str(tmp_path / 'empty.jpg')) == 'empty file'
    # bytes after the JPEG end marker: decodes, so it passes
    path = _write(tmp_path / 'trailing')
    with open(path, 'ab') as f:
        f.write(b'x' * 5000)
    assert image_problem(path) is None
    (tmp_path / 'text.jpg').write_bytes(b'not an image at all')
    assert 'cannot be decoded' in image_problem(str(tmp_path / 'text.jpg'))


def test_check_images_reports_every_problem(tmp_path):
    paths = [_write(tmp_path / f'img{i}') for i in range(20)]
    _truncate(paths[3])
    missing = str(tmp_path / 'gone.jpg')
    seen = []
    problems = check_images(paths + [missing, paths[0]], num_workers=4,
                            progress=lambda done, total: seen.append((done, total)))
    assert sorted(problems) == sorted([paths[3], missing])
    assert seen[-1] == (21, 21)  # duplicates checked once


@pytest.fixture
def broken_dataset(small_dataset, tmp_path):
    """A copy of the small dataset whose train split has one missing image
    and one image cut at half its bytes."""
    root = tmp_path / 'data'
    shutil.copytree(small_dataset, root)
    with open(root / 'refcoco' / 'refs(unc).p', 'rb') as f:
        refs = pickle.load(f)
    import json
    coco = json.load(open(root / 'refcoco' / 'instances.json'))
    names = {img['id']: img['file_name'] for img in coco['images']}
    train_images = sorted({names[r['image_id']] for r in refs if r['split'] == 'train'})
    missing, truncated = train_images[0], train_images[1]
    (root / 'images' / missing).unlink()
    _truncate(root / 'images' / truncated)
    bad_refs = {name: [r for r in refs if names[r['image_id']] == name]
                for name in (missing, truncated)}
    return str(root), missing, truncated, bad_refs, refs


def _dataset(root, **kwargs):
    return RefCOCODataset(
        data_root=root, ann_file='refcoco/instances.json',
        split_file='refcoco/refs(unc).p', data_prefix=dict(img_path='images/'),
        split='train', pipeline=[], **kwargs)


def test_split_with_bad_images_stops_and_names_all(broken_dataset):
    root, missing, truncated, bad_refs, _ = broken_dataset
    with pytest.raises(BadImagesError) as err:
        _dataset(root)
    msg = str(err.value)
    assert f'{missing}: missing' in msg
    assert f'{truncated}: truncated JPEG' in msg
    for ref in bad_refs[missing] + bad_refs[truncated]:
        assert str(ref['ref_id']) in msg
        assert str(ref['sent_ids'][0]) in msg
    assert '--skip-bad-samples' in msg


def test_skip_bad_samples_runs_on_the_rest(broken_dataset):
    root, missing, truncated, bad_refs, refs = broken_dataset
    dataset = _dataset(root, skip_bad_samples=True)
    total = sum(len(r['sentences']) for r in refs if r['split'] == 'train')
    num_bad = sum(len(r['sentences']) for group in bad_refs.values() for r in group)
    assert len(dataset) == total - num_bad
    meta = dataset.metainfo
    assert meta['num_samples_total'] == total
    assert len(meta['skipped_samples']) == num_bad
    assert {osp.basename(s['img_path']) for s in meta['skipped_samples']} == \
        {missing, truncated}
    kept = {osp.basename(dataset.get_data_info(i)['img_path'])
            for i in range(len(dataset))}
    assert not kept & {missing, truncated}


def test_check_can_be_switched_off(broken_dataset):
    root = broken_dataset[0]
    dataset = _dataset(root, check_images=False)
    assert len(dataset) > 0 and dataset.metainfo['skipped_samples'] == []
    assert glob.glob(osp.join(root, 'images', '*.jpg'))


# ------------------------------------------- size against the annotation file
def test_image_problem_compares_the_header_size(tmp_path):
    path = _write(tmp_path / 'img')  # 32 x 48 (h x w)
    assert image_problem(path, size=(32, 48)) is None
    assert image_problem(path, size=(48, 32)) == \
        'is 32x48 (h x w) but the annotation file says 48x32'
    png = _write(tmp_path / 'img', '.png')
    assert '32x48' in image_problem(png, size=(33, 48))
    problems = check_images([path, png], sizes={path: (32, 48), png: (32, 40)})
    assert list(problems) == [png]


def _resize_one_train_image(root):
    """Rewrite one train image of the dataset at ``root`` at another size
    (a whole, decodable JPEG); return its name and refs."""
    import json
    coco = json.load(open(osp.join(root, 'refcoco', 'instances.json')))
    with open(osp.join(root, 'refcoco', 'refs(unc).p'), 'rb') as f:
        refs = pickle.load(f)
    images = {img['id']: img for img in coco['images']}
    ref = next(r for r in refs if r['split'] == 'train')
    img = images[ref['image_id']]
    path = osp.join(root, 'images', img['file_name'])
    cv2.imwrite(path, cv2.resize(cv2.imread(path), (img['width'] + 8, img['height'])))
    return img, [r for r in refs if r['image_id'] == ref['image_id']], refs


def test_image_of_another_size_is_found_before_loading(small_dataset, tmp_path):
    root = str(tmp_path / 'data')
    shutil.copytree(small_dataset, root)
    img, users, refs = _resize_one_train_image(root)
    with pytest.raises(BadImagesError) as err:
        _dataset(root)
    assert (f'{img["file_name"]}: is {img["height"]}x{img["width"] + 8} (h x w) but the '
            f'annotation file says {img["height"]}x{img["width"]}') in str(err.value)
    # --skip-bad-samples leaves its samples out with the others
    dataset = _dataset(root, skip_bad_samples=True)
    skipped = {osp.basename(s['img_path']) for s in dataset.metainfo['skipped_samples']}
    assert img['file_name'] in skipped
    kept = {dataset.get_data_info(i)['ref_id'] for i in range(len(dataset))}
    assert not kept & {r['ref_id'] for r in users}
