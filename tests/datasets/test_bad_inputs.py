"""Bad inputs give clear errors naming the file and the ref / annotation."""
import json
import os
import os.path as osp
import pickle
import re

import pytest

SPLIT_FILE = osp.join('refcoco', 'refs(unc).p')
ANN_FILE = osp.join('refcoco', 'instances.json')


def _edit_instances(root, edit):
    path = osp.join(root, ANN_FILE)
    with open(path) as f:
        coco = json.load(f)
    edit(coco)
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


def _first_ref(root, split='train'):
    with open(osp.join(root, SPLIT_FILE), 'rb') as f:
        return next(r for r in pickle.load(f) if r['split'] == split)


def test_missing_image(synthetic_copy, build_dataset):
    ds = build_dataset(synthetic_copy, pipeline=[
        dict(type='LoadReferringImage'),
        dict(type='LoadReferringAnnotations')])
    info = ds.get_data_info(0)
    os.remove(info['img_path'])
    with pytest.raises(FileNotFoundError) as err:
        ds[0]
    msg = str(err.value)
    assert info['img_path'] in msg
    assert f'ref_id={info["ref_id"]}' in msg
    assert f'sent_id={info["sent_id"]}' in msg


@pytest.mark.parametrize('keep', [0.5, 0.95])
def test_truncated_image(synthetic_copy, build_dataset, keep):
    ds = build_dataset(synthetic_copy, pipeline=[
        dict(type='LoadReferringImage')])
    info = ds.get_data_info(0)
    with open(info['img_path'], 'rb') as f:
        data = f.read()
    with open(info['img_path'], 'wb') as f:
        f.write(data[:int(len(data) * keep)])
    with pytest.raises(OSError, match='truncated') as err:
        ds[0]
    msg = str(err.value)
    assert info['img_path'] in msg
    assert f'ref_id={info["ref_id"]}' in msg
    assert f'sent_id={info["sent_id"]}' in msg


class _Evil:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_malicious_refs_pickle_is_refused(synthetic_copy, build_dataset,
                                         tmp_path):
    marker = tmp_path / 'pwned'
    path = osp.join(synthetic_copy, SPLIT_FILE)
    with open(path, 'rb') as f:
        refs = pickle.load(f)
    refs[0]['sentences'][0]['sent'] = _Evil(marker)
    with open(path, 'wb') as f:
        pickle.dump(refs, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError) as err:
        build_dataset(synthetic_copy)
    assert path in str(err.value)
    assert 'system' in str(err.value)
    assert not marker.exists()


def test_non_builtin_refs_pickle_is_refused(synthetic_copy, build_dataset):
    import collections
    path = osp.join(synthetic_copy, SPLIT_FILE)
    with open(path, 'rb') as f:
        refs = pickle.load(f)
    refs[0] = collections.OrderedDict(refs[0])
    with open(path, 'wb') as f:
        pickle.dump(refs, f)
    with pytest.raises(pickle.UnpicklingError,
                       match=r'collections\.OrderedDict') as err:
        build_dataset(synthetic_copy)
    assert path in str(err.value)


@pytest.mark.parametrize('sent', ['\x00\x1f', '\ufeff', '\x1b[1m\x1b[0m', '\ufffc'])
def test_sentence_without_a_printable_word(synthetic_copy, build_dataset, sent):
    """Such a sentence tokenised to nothing and trained as an empty one."""
    path = osp.join(synthetic_copy, SPLIT_FILE)
    with open(path, 'rb') as f:
        refs = pickle.load(f)
    refs[0]['sentences'][0]['sent'] = sent
    with open(path, 'wb') as f:
        pickle.dump(refs, f)
    sent_id = refs[0]['sentences'][0]['sent_id']
    with pytest.raises(ValueError) as err:
        build_dataset(synthetic_copy, split=refs[0]['split'])
    assert (f'ref_id={refs[0]["ref_id"]} of {path}: sentence #0 (sent_id={sent_id}): '
            f'"sent" has no printable word: {sent!r}') in str(err.value)


def test_unknown_split_lists_available(synthetic, build_dataset):
    with pytest.raises(ValueError) as err:
        build_dataset(synthetic[0], split='testC')
    msg = str(err.value)
    assert 'testC' in msg and 'refs(unc).p' in msg
    for split in ('train', 'val', 'testA', 'testB'):
        assert repr(split) in msg
    with pytest.raises(ValueError, match=r"\['train', 'val'\]"):
        build_dataset(synthetic[0], split_file='refcoco/refs(google).p',
                      split='test')


def test_ref_with_missing_annotation(synthetic_copy, build_dataset):
    ref = _first_ref(synthetic_copy)
    path = _edit_instances(
        synthetic_copy, lambda coco: coco.update(annotations=[
            a for a in coco['annotations'] if a['id'] != ref['ann_id']]))
    with pytest.raises(ValueError) as err:
        build_dataset(synthetic_copy)
    msg = str(err.value)
    assert path in msg and 'refs(unc).p' in msg
    assert f'ref_id={ref["ref_id"]}' in msg
    assert f'annotation id={ref["ann_id"]}' in msg


def test_ref_with_missing_image(synthetic_copy, build_dataset):
    ref = _first_ref(synthetic_copy)
    path = _edit_instances(
        synthetic_copy, lambda coco: coco.update(images=[
            i for i in coco['images'] if i['id'] != ref['image_id']]))
    with pytest.raises(ValueError) as err:
        build_dataset(synthetic_copy)
    msg = str(err.value)
    assert path in msg
    assert f'ref_id={ref["ref_id"]}' in msg
    assert f'image id={ref["image_id"]}' in msg


@pytest.mark.parametrize('bad', [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0]])
def test_polygon_with_fewer_than_three_points(synthetic_copy, build_dataset,
                                              bad):
    ref = _first_ref(synthetic_copy)

    def edit(coco):
        ann = next(a for a in coco['annotations'] if a['id'] == ref['ann_id'])
        ann['segmentation'] = [[10, 10, 40, 10, 40, 40], bad]

    path = _edit_instances(synthetic_copy, edit)
    with pytest.raises(ValueError, match='at least 3 points') as err:
        build_dataset(synthetic_copy)
    msg = str(err.value)
    assert path in msg
    assert f'annotation id={ref["ann_id"]}' in msg
    assert f'ref_id={ref["ref_id"]}' in msg
    # Opt-in: drop the degenerate part, keep the valid one.
    ds = build_dataset(synthetic_copy, skip_invalid_polygons=True)
    info = next(ds.get_data_info(i) for i in range(len(ds))
                if ds.get_data_info(i)['ann_id'] == ref['ann_id'])
    assert info['segmentation'] == [[10, 10, 40, 10, 40, 40]]


def test_missing_files(synthetic_copy, build_dataset):
    os.remove(osp.join(synthetic_copy, SPLIT_FILE))
    with pytest.raises(FileNotFoundError, match=re.escape(SPLIT_FILE)):
        build_dataset(synthetic_copy)


def _move_image_out(root, tmp_path, ref):
    """Move the image of ``ref`` to ``tmp_path/outside`` (beside the data
    root); return its image id and new path."""
    with open(osp.join(root, ANN_FILE)) as f:
        img = next(i for i in json.load(f)['images'] if i['id'] == ref['image_id'])
    outside = tmp_path / 'outside' / img['file_name']
    outside.parent.mkdir()
    os.rename(osp.join(root, 'images', img['file_name']), outside)
    return img['id'], str(outside)


@pytest.mark.parametrize('how', ['absolute', 'climbing'])
def test_image_path_outside_the_image_folder(synthetic_copy, build_dataset, tmp_path,
                                             how):
    """instances.json comes from the internet: a file_name that is absolute
    or climbs out with '..' is refused (naming the file, the image and the
    path) unless allow_outside_paths=True."""
    ref = _first_ref(synthetic_copy)
    image_id, outside = _move_image_out(synthetic_copy, tmp_path, ref)
    name = outside if how == 'absolute' else osp.relpath(
        outside, osp.join(synthetic_copy, 'images'))
    path = _edit_instances(synthetic_copy, lambda coco: next(
        i for i in coco['images'] if i['id'] == image_id).update(file_name=name))
    with pytest.raises(ValueError) as err:
        build_dataset(synthetic_copy)
    assert f"{path}: image id={image_id}: file_name {name!r} leaves the image " \
        'folder' in str(err.value)
    ds = build_dataset(synthetic_copy, allow_outside_paths=True)
    paths = {ds.get_data_info(i)['img_path'] for i in range(len(ds))
             if ds.get_data_info(i)['ref_id'] == ref['ref_id']}
    assert {osp.realpath(p) for p in paths} == {osp.realpath(outside)}


def test_symlinked_image_folder_is_inside(synthetic_copy, build_dataset, tmp_path):
    """The check is lexical: an image folder that links elsewhere (as
    data/coco/train2014 -> /datasets/coco/train2014) needs no option."""
    elsewhere = tmp_path / 'elsewhere'
    os.rename(osp.join(synthetic_copy, 'images'), elsewhere)
    os.symlink(elsewhere, osp.join(synthetic_copy, 'images'))
    ds = build_dataset(synthetic_copy)  # the image pre-flight check reads them all
    assert len(ds) > 0
    assert osp.realpath(ds.get_data_info(0)['img_path']).startswith(str(elsewhere))


@pytest.mark.parametrize('key', ['file_name', 'height'])
def test_image_entry_without_a_key(synthetic_copy, build_dataset, key):
    ref = _first_ref(synthetic_copy)
    path = _edit_instances(synthetic_copy, lambda coco: next(
        i for i in coco['images'] if i['id'] == ref['image_id']).pop(key))
    with pytest.raises(ValueError, match=re.escape(
            f'{path}: image id={ref["image_id"]} has no "{key}"')):
        build_dataset(synthetic_copy)
