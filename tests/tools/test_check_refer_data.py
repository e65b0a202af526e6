"""tools/dataset_converters/check_refer_data.py on the synthetic dataset and
on broken copies of it."""
import json
import os
import os.path as osp
import pathlib
import pickle
import shutil
import sys

import pytest
from asda_test_utils import Terminal, load_tool

from asda.datasets.refs_io import RefsEncodingWarning

SYNTHETIC = ['--img-dir', 'images', '--dataset', 'refcoco:unc', 'refcoco:umd',
             'refcoco:google', '--num-workers', '2']


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/dataset_converters/check_refer_data.py',
                     'asda_check_refer_data')


@pytest.fixture
def data_copy(tool_dataset, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(tool_dataset, root)
    return root


def _refs(root, split_by='unc'):
    with open(root / 'refcoco' / f'refs({split_by}).p', 'rb') as f:
        return pickle.load(f)


def _write_refs(root, refs, split_by='unc'):
    with open(root / 'refcoco' / f'refs({split_by}).p', 'wb') as f:
        pickle.dump(refs, f, protocol=2)


def _image_of(root, ref):
    with open(root / 'refcoco' / 'instances.json') as f:
        images = {i['id']: i for i in json.load(f)['images']}
    return root / 'images' / images[ref['image_id']]['file_name']


def test_generator_writes_counts_manifest(tool_dataset):
    with open(osp.join(tool_dataset, 'refcoco', 'counts.json')) as f:
        counts = json.load(f)['counts']
    refs = _refs(pathlib.Path(tool_dataset), 'umd')
    val = [r for r in refs if r['split'] == 'val']
    assert counts['umd']['val'] == dict(
        refs=len(val), expressions=sum(len(r['sentences']) for r in val),
        images=len({r['image_id'] for r in val}))
    assert set(counts) == {'unc', 'umd', 'google'}


def test_passes_on_synthetic_data(tool, tool_dataset, capsys, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, 'stderr', terminal)
    assert tool.main(['--data-root', tool_dataset] + SYNTHETIC) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert 'all checks passed' in out
    counts = json.load(open(osp.join(tool_dataset, 'refcoco', 'counts.json')))
    val = counts['counts']['unc']['val']
    # one table: a row per split file and split, found / expected
    rows = [line for line in out.splitlines() if line.startswith('refcoco (')]
    assert len(rows) == 4 + 3 + 2
    val_row = next(r for r in rows if r.startswith('refcoco (unc)') and '| val ' in r)
    assert f'{val["refs"]} / {val["refs"]}' in val_row
    assert f'{val["expressions"]} / {val["expressions"]}' in val_row
    # progress on a terminal: the refer files, then the images
    progress = terminal.getvalue()
    assert 'reading the refer files\n' in progress and '3/3' in progress
    images = len(os.listdir(osp.join(tool_dataset, 'images')))
    assert f'checking {images} images\n' in progress and f'{images}/{images}' in progress


def _missing_image(root):
    ref = _refs(root)[0]
    path = _image_of(root, ref)
    os.remove(path)
    return [f'{path}: missing']


def _truncated_image(root):
    ref = next(r for r in _refs(root) if r['split'] == 'val')
    path = _image_of(root, ref)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return [f'{path}: truncated JPEG', 'refcoco unc val']


def _image_of_another_size(root):
    ref = next(r for r in _refs(root) if r['split'] == 'val')
    path = _image_of(root, ref)
    import cv2
    img = cv2.imread(str(path))
    height, width = img.shape[:2]
    cv2.imwrite(str(path), cv2.resize(img, (width, height + 4)))
    return [f'{path}: is {height + 4}x{width} (h x w) but the annotation file says '
            f'{height}x{width}', 'refcoco unc val']


def _missing_annotation(root):
    refs = _refs(root)
    refs[2]['ann_id'] = 987654
    _write_refs(root, refs)
    return [f'ref_id={refs[2]["ref_id"]} of {root / "refcoco" / "refs(unc).p"} refers '
            'to annotation id=987654']


def _split_counts_differ(root):
    dropped = _refs(root)
    test_b = [r for r in dropped if r['split'] == 'testB']
    refs = [r for r in dropped if r is not test_b[0]]
    _write_refs(root, refs)
    counts = json.load(open(root / 'refcoco' / 'counts.json'))['counts']
    want = counts['unc']['testB']['refs']
    return [f"refcoco (unc) split 'testB': {want - 1} refs, expected {want}"]


def _instances_not_json(root):
    path = root / 'refcoco' / 'instances.json'
    path.write_text('{"images": [')
    return [f'{path}: cannot be read as JSON (Expecting value: line 1 column 13']


@pytest.mark.parametrize('corrupt', [_missing_image, _truncated_image,
                                     _image_of_another_size, _missing_annotation,
                                     _split_counts_differ, _instances_not_json])
def test_fails_naming_the_problem(tool, data_copy, corrupt, capsys):
    expected = corrupt(data_copy)
    assert tool.main(['--data-root', str(data_copy)] + SYNTHETIC) == 1
    out = capsys.readouterr().out
    problems = out.split('problem(s):')[1]
    for text in expected:
        assert text in problems, (text, problems)


def test_all_problems_at_once(tool, data_copy, capsys):
    expected = (_missing_image(data_copy) + _truncated_image(data_copy)
                + _missing_annotation(data_copy) + _split_counts_differ(data_copy))
    assert tool.main(['--data-root', str(data_copy)] + SYNTHETIC) == 1
    problems = capsys.readouterr().out.split('problem(s):')[1]
    for text in expected:
        assert text in problems


def test_compares_with_published_counts_and_names_missing_files(
        tool, data_copy, capsys):
    os.remove(data_copy / 'refcoco' / 'counts.json')
    code = tool.main(['--data-root', str(data_copy), '--img-dir', 'images',
                      '--no-image-check', '--dataset', 'refcoco:unc', 'refcoco+'])
    assert code == 1
    out = capsys.readouterr().out
    assert "split 'train':" in out and 'expected 42404 (source: TensorFlow Datasets' in out
    assert 'expected 120624 (source: FlagEval' in out
    assert f'{data_copy / "refcoco+" / "instances.json"}: missing' in out
    assert f'{data_copy / "refcoco+" / "refs(unc).p"}: missing' in out


def test_published_counts_are_sourced():
    from asda.datasets import refer_check
    for (name, split_by), splits in refer_check.PUBLISHED.items():
        assert split_by in refer_check.DATASETS[name]
        for kinds in splits.values():
            for kind, (count, source) in kinds.items():
                assert kind in refer_check.KINDS and count > 0 and \
                    source in refer_check.SOURCES


def test_grefcoco_lists_and_no_target(tool, tmp_path, capsys):
    """gRefCOCO's grefs (lists of annotation ids, [-1] for no target) pass;
    a missing annotation inside a multi-target gref is named."""
    from asda.synthetic.gres import make_synthetic_grefcoco
    make_synthetic_grefcoco(str(tmp_path), seed=2,
                            split_sizes=dict(train=3, val=1, testA=1, testB=1))
    args = ['--data-root', str(tmp_path), '--img-dir', 'images', '--dataset', 'grefcoco']
    assert tool.main(args) == 0, capsys.readouterr().out
    grefs_file = tmp_path / 'grefcoco' / 'grefs(unc).json'
    grefs = json.loads(grefs_file.read_text())
    multi = next(g for g in grefs if len(g['ann_id']) > 1)
    multi['ann_id'][1] = 987654
    grefs_file.write_text(json.dumps(grefs))
    capsys.readouterr()
    assert tool.main(args) == 1
    out = capsys.readouterr().out
    assert f'ref_id={multi["ref_id"]} of' in out and 'annotation id=987654' in out


# ---------------------------------------------------------------- one owner
# Every malformed gref or instances entry gets the same verdict from the
# checker and from GRefCOCODataset, in the same words: both ask the loader's
# rules (asda.datasets.refs_io, RefCOCODataset / GRefCOCODataset.ref_problems).
GREF_SPLIT_SIZES = dict(train=3, val=1, testA=1, testB=1)


@pytest.fixture(scope='module')
def gref_data(tmp_path_factory):
    from asda.synthetic.gres import make_synthetic_grefcoco
    root = tmp_path_factory.mktemp('gref_data')
    make_synthetic_grefcoco(str(root), seed=2, split_sizes=GREF_SPLIT_SIZES)
    return root


def _target(grefs, multi=False):
    """The first val gref with one target (or several)."""
    return next(g for g in grefs if g['split'] == 'val' and g['ann_id'] != [-1]
                and (len(g['ann_id']) > 1) == multi)


def _no_target(grefs):
    return next(g for g in grefs if g['split'] == 'val' and g['ann_id'] == [-1])


def _scalar_no_target(grefs):
    gref = _no_target(grefs)
    del gref['no_target']
    gref['ann_id'] = -1


def _val_image(coco):
    grefs_image = 4  # the val image of the synthetic gRefCOCO (seed 2)
    return next(i for i in coco['images'] if i['id'] == grefs_image)


def _all_crowd(grefs, coco):
    gref = _target(grefs, multi=True)
    for ann in coco['annotations']:
        if ann['id'] in gref['ann_id']:
            ann['iscrowd'] = 1


def _empty_polygon(coco, where):
    """A polygon of zero area, or one lying wholly outside the val image."""
    img = _val_image(coco)
    if where == 'zero area':
        return [[10, 10, 20, 20, 30, 30]]
    return [[img['width'] + 5, 5, img['width'] + 40, 5, img['width'] + 40, 40]]


def _empty_targets(grefs, coco, where, multi=False):
    """Every target annotation of a val gref gets an empty polygon."""
    ids = _target(grefs, multi)['ann_id']
    for ann in coco['annotations']:
        if ann['id'] in ids:
            ann['segmentation'] = _empty_polygon(coco, where)


def _one_more_empty_target(grefs, coco):
    """A multi-target val gref gains a target annotation with an empty
    polygon; the union of its targets is not empty."""
    ann = dict(next(a for a in coco['annotations'] if a['image_id'] == 4),
               id=99999, segmentation=_empty_polygon(coco, 'outside'))
    coco['annotations'].append(ann)
    _target(grefs, multi=True)['ann_id'].append(ann['id'])


GREF_CASES = {  # name: (edit(grefs, coco), words of the problem, or None: accepted)
    'no sentences': (lambda g, c: _target(g).update(sentences=[]), None),  # no sample
    'float ann_id': (lambda g, c: _target(g).update(ann_id=[float(_target(g)['ann_id'][0])]),
                     'is not an integer'),
    'sent None': (lambda g, c: _target(g)['sentences'][0].update(sent=None),
                  '"sent" must be a str, got NoneType'),
    'empty sent': (lambda g, c: _target(g)['sentences'][0].update(sent=''), 'is empty'),
    'blank sent': (lambda g, c: _target(g)['sentences'][0].update(sent=' \t'), 'is empty'),
    'scalar -1 no target': (lambda g, c: _scalar_no_target(g), None),
    'no_target string': (lambda g, c: _no_target(g).update(no_target='false'),
                         'no_target must be a bool'),
    'list split': (lambda g, c: _target(g).update(split=['val']), 'split must be a str'),
    'duplicate gref': (lambda g, c: g.append(dict(_target(g))), 'appears 2 times'),
    'unknown category': (lambda g, c: _target(g).update(category_id=[99]),
                         'category_id=99 is not a category'),
    'mixed -1': (lambda g, c: _target(g).update(ann_id=[-1] + _target(g)['ann_id']),
                 'mixes -1'),
    'nested ann_id': (lambda g, c: _target(g).update(ann_id=[_target(g)['ann_id']]),
                      'is not an integer'),
    'list image_id': (lambda g, c: _target(g).update(image_id=[4]),
                      'image_id must be an integer'),
    'all crowd': (_all_crowd, 'is iscrowd'),
    'zero-area target': (lambda g, c: _empty_targets(g, c, 'zero area'),
                         'its target mask is empty'),
    'target outside the image': (lambda g, c: _empty_targets(g, c, 'outside'),
                                 'its target mask is empty'),
    'all targets empty': (lambda g, c: _empty_targets(g, c, 'zero area', multi=True),
                          'its target mask is empty'),
    'one more target, empty': (_one_more_empty_target, None),
    'control-character sent': (
        lambda g, c: _target(g)['sentences'][0].update(sent='\x1b[0m\ufeff'),
        'has no printable word'),
    'no file_name': (lambda g, c: _val_image(c).pop('file_name'),
                     'image id=4 has no "file_name"'),
    'no height': (lambda g, c: _val_image(c).pop('height'), 'image id=4 has no "height"'),
    'absolute file_name': (lambda g, c: _val_image(c).update(file_name='/etc/passwd'),
                           "image id=4: file_name '/etc/passwd' leaves the image folder"),
    'climbing file_name': (lambda g, c: _val_image(c).update(file_name='../../x.jpg'),
                           "image id=4: file_name '../../x.jpg' leaves the image folder"),
}


@pytest.mark.parametrize('case', sorted(GREF_CASES))
def test_checker_and_dataset_agree(tool, gref_data, tmp_path, case, capsys):
    from asda.datasets import GRefCOCODataset
    edit, words = GREF_CASES[case]
    root = tmp_path / 'data'
    shutil.copytree(gref_data, root)
    grefs_file = root / 'grefcoco' / 'grefs(unc).json'
    ann_file = root / 'grefcoco' / 'instances.json'
    grefs, coco = json.loads(grefs_file.read_text()), json.loads(ann_file.read_text())
    edit(grefs, coco)
    (root / 'grefcoco' / 'counts.json').unlink()  # the rules, not the counts
    grefs_file.write_text(json.dumps(grefs))
    ann_file.write_text(json.dumps(coco))

    code = tool.main(['--data-root', str(root), '--img-dir', 'images', '--dataset',
                      'grefcoco', '--no-image-check'])
    out = capsys.readouterr().out
    try:
        GRefCOCODataset(data_root=str(root), data_prefix=dict(img_path='images/'),
                        split='val', check_images=False)
        refused = None
    except ValueError as err:
        refused = str(err)
    if words is None:
        assert code == 0, out
        assert refused is None
        return
    assert code == 1, out
    found = [line[4:] for line in out.split('problem(s):')[1].splitlines()
             if words in line]
    assert found, (words, out)
    assert refused is not None and found[0] in refused, (found[0], refused)


def test_refs_without_sentences_are_noted_not_failed(tool, gref_data, tmp_path, capsys):
    """As the datasets do, a ref without sentences is skipped, not an error
    (gRefCOCO's val split has some); the checker says how many and which."""
    root = tmp_path / 'data'
    shutil.copytree(gref_data, root)
    grefs_file = root / 'grefcoco' / 'grefs(unc).json'
    grefs = json.loads(grefs_file.read_text())
    gref = _target(grefs)
    gref['sentences'] = []
    grefs_file.write_text(json.dumps(grefs))
    (root / 'grefcoco' / 'counts.json').unlink()
    assert tool.main(['--data-root', str(root), '--img-dir', 'images', '--dataset',
                      'grefcoco', '--no-image-check']) == 0
    out = capsys.readouterr().out
    assert f"grefcoco (unc) split 'val': 1 ref(s) without sentences give no sample " \
        f"(skipped, as the datasets do): ref_id [{gref['ref_id']}]" in out


def test_table_counts_the_bad_refs_of_each_split(tool, gref_data, tmp_path, capsys):
    root = tmp_path / 'data'
    shutil.copytree(gref_data, root)
    grefs_file = root / 'grefcoco' / 'grefs(unc).json'
    grefs = json.loads(grefs_file.read_text())
    _target(grefs)['sentences'][0]['sent'] = None  # a rule of the file
    _target(grefs, multi=True)['category_id'] = [99]  # a rule against the instances
    grefs_file.write_text(json.dumps(grefs))
    assert tool.main(['--data-root', str(root), '--img-dir', 'images', '--dataset',
                      'grefcoco', '--no-image-check']) == 1
    [val_row] = [line for line in capsys.readouterr().out.splitlines()
                 if line.startswith('grefcoco (unc) | val ')]
    assert '2 bad ref(s)' in val_row


# ------------------------------------------------------ segmentation fields
# The mask rules (asda.datasets.mask_utils.annotation_segmentation) have one
# owner: the checker refuses what the datasets refuse, in the same words.
def _polygon(segmentation):
    return lambda ann, img: ann.update(segmentation=segmentation)


def _wrong_size_rle(ann, img):
    height, width = img['height'], img['width']
    ann['segmentation'] = dict(size=[height + 1, width],
                               counts=[0, (height + 1) * width])


SEGMENTATION_CASES = {  # name: (edit(target annotation, its image), words)
    '2-point polygon': (_polygon([[10, 10, 40, 10]]), 'at least 3 points'),
    'odd coordinate count': (_polygon([[10, 10, 40, 10, 40, 40, 5]]),
                             'odd number of coordinates (7)'),
    'bbox only': (lambda ann, img: ann.pop('segmentation'), 'has no segmentation'),
    'wrong-size RLE': (_wrong_size_rle, 'differs from the image size'),
}


def _edit_target(root, folder, refs, edit):
    """Apply ``edit`` to the annotation of the first val ref of ``refs``
    (its first target for a gref) in ``root/folder/instances.json``."""
    ref = next(r for r in refs if r['split'] == 'val' and r['ann_id'] != [-1])
    ann_id = ref['ann_id'][0] if isinstance(ref['ann_id'], list) else ref['ann_id']
    ann_file = root / folder / 'instances.json'
    coco = json.loads(ann_file.read_text())
    ann = next(a for a in coco['annotations'] if a['id'] == ann_id)
    edit(ann, next(i for i in coco['images'] if i['id'] == ref['image_id']))
    ann_file.write_text(json.dumps(coco))
    return ref, ann_id


@pytest.mark.parametrize('dataset', ['refcoco', 'grefcoco'])
@pytest.mark.parametrize('case', sorted(SEGMENTATION_CASES))
def test_checker_and_dataset_agree_on_segmentations(tool, data_copy, gref_data, tmp_path,
                                                    dataset, case, capsys):
    from asda.datasets import GRefCOCODataset, RefCOCODataset
    edit, words = SEGMENTATION_CASES[case]
    if dataset == 'refcoco':
        root, args = data_copy, ['refcoco:unc']
        refs = _refs(root)
        build = dict(type=RefCOCODataset, split_file='refcoco/refs(unc).p')
    else:
        root, args = tmp_path / 'gref', ['grefcoco']
        shutil.copytree(gref_data, root)
        refs = json.loads((root / 'grefcoco' / 'grefs(unc).json').read_text())
        build = dict(type=GRefCOCODataset)
    ref, ann_id = _edit_target(root, dataset, refs, edit)

    code = tool.main(['--data-root', str(root), '--img-dir', 'images', '--dataset',
                      *args, '--no-image-check'])
    out = capsys.readouterr().out
    kind = build.pop('type')
    with pytest.raises(ValueError) as err:
        kind(data_root=str(root), data_prefix=dict(img_path='images/'), split='val',
             check_images=False, **build)
    assert code == 1, out
    found = [line[4:] for line in out.split('problem(s):')[1].splitlines()
             if words in line]
    assert found, (words, out)
    assert f'ref_id={ref["ref_id"]} of ' in found[0]
    assert f'annotation id={ann_id}' in found[0]
    assert found[0] in str(err.value), (found[0], str(err.value))


def test_skip_invalid_polygons_as_the_dataset(tool, data_copy, capsys):
    """--skip-invalid-polygons accepts what skip_invalid_polygons=True
    loads: a degenerate part beside a usable one."""
    from asda.datasets import RefCOCODataset
    _edit_target(data_copy, 'refcoco', _refs(data_copy),
                 _polygon([[10, 10, 40, 10, 40, 40], [10, 10, 40, 10]]))
    args = ['--data-root', str(data_copy), '--img-dir', 'images', '--dataset',
            'refcoco:unc', '--no-image-check']
    assert tool.main(args) == 1
    assert 'polygon part 1 has 2 point(s)' in capsys.readouterr().out
    assert tool.main(args + ['--skip-invalid-polygons']) == 0, capsys.readouterr().out
    RefCOCODataset(data_root=str(data_copy), data_prefix=dict(img_path='images/'),
                   split='val', split_file='refcoco/refs(unc).p', check_images=False,
                   skip_invalid_polygons=True)


def _py2_pickle(obj, latin1=()):
    """A protocol-2 pickle as Python 2 wrote the refs: every str a byte
    string (SHORT_BINSTRING / BINSTRING), UTF-8 encoded, or Latin-1 for the
    strings in ``latin1``."""
    if isinstance(obj, str):
        data = obj.encode('latin-1' if obj in latin1 else 'utf-8')
        if len(data) < 256:
            return b'U' + bytes([len(data)]) + data
        return b'T' + len(data).to_bytes(4, 'little') + data
    if isinstance(obj, bool) or obj is None:
        return {True: b'\x88', False: b'\x89', None: b'N'}[obj]
    if isinstance(obj, int):
        return b'J' + obj.to_bytes(4, 'little', signed=True)
    if isinstance(obj, list):
        return b'](' + b''.join(_py2_pickle(v, latin1) for v in obj) + b'e'
    if isinstance(obj, dict):
        return b'}(' + b''.join(_py2_pickle(k, latin1) + _py2_pickle(v, latin1)
                                for k, v in obj.items()) + b'u'
    raise TypeError(obj)


def test_a_latin1_string_is_decoded_alone_and_noted(tool, data_copy, capsys):
    """One Latin-1 byte made the whole pickle decode as Latin-1 ('café' in
    UTF-8 read 'cafÃ©') with no warning, and the checker passed it."""
    from asda.datasets import RefCOCODataset
    refs = _refs(data_copy)
    utf8, latin1 = refs[0]['sentences'][0], refs[1]['sentences'][0]
    utf8['sent'], latin1['sent'] = 'the caf\u00e9 sign', 'the na\u00efve cup'
    path = data_copy / 'refcoco' / 'refs(unc).p'
    path.write_bytes(b'\x80\x02' + _py2_pickle(refs, latin1=[latin1['sent']]) + b'.')
    assert tool.main(['--data-root', str(data_copy), '--img-dir', 'images',
                      '--dataset', 'refcoco:unc', '--no-image-check']) == 0
    out = capsys.readouterr().out
    assert (f"note: {path}: 1 string(s) are not UTF-8 and were decoded as Latin-1 "
            f"(the other strings as UTF-8): ref_id={refs[1]['ref_id']} "
            f"sentences[0].sent 'the na\u00efve cup'") in out
    with pytest.warns(RefsEncodingWarning, match=f'ref_id={refs[1]["ref_id"]} '):
        dataset = RefCOCODataset(
            data_root=str(data_copy), data_prefix=dict(img_path='images/'),
            split=refs[0]['split'], check_images=False)
    texts = {info['sent_id']: info['text']
             for info in map(dataset.get_data_info, range(len(dataset)))}
    assert texts[utf8['sent_id']] == 'the caf\u00e9 sign'


@pytest.mark.parametrize('where', ['zero area', 'outside the image'])
def test_an_empty_target_mask_is_refused_by_checker_and_dataset(where, tool, data_copy,
                                                                capsys):
    """An empty target scored IoU 1 with an empty prediction (oIoU and mIoU
    100.00), and both the dataset and the checker accepted it."""
    from asda.datasets import RefCOCODataset
    ref = next(r for r in _refs(data_copy) if r['split'] == 'val')
    ann_file = data_copy / 'refcoco' / 'instances.json'
    coco = json.loads(ann_file.read_text())
    img = next(i for i in coco['images'] if i['id'] == ref['image_id'])
    ann = next(a for a in coco['annotations'] if a['id'] == ref['ann_id'])
    w, h = img['width'], img['height']
    ann['segmentation'] = [[5, 5, 25, 25, 45, 45]] if where == 'zero area' else \
        [[-60, 5, -10, 5, -10, h - 5, -60, h - 5]]
    ann_file.write_text(json.dumps(coco))
    words = (f'ref_id={ref["ref_id"]} of {data_copy / "refcoco" / "refs(unc).p"}: its '
             f'target mask is empty (annotation id(s) [{ann["id"]}] in {ann_file} cover '
             f'no pixel of the {w} x {h} image')
    assert tool.main(['--data-root', str(data_copy), '--img-dir', 'images',
                      '--dataset', 'refcoco:unc', '--no-image-check']) == 1
    assert words in capsys.readouterr().out.split('problem(s):')[1]
    with pytest.raises(ValueError) as err:
        RefCOCODataset(data_root=str(data_copy), data_prefix=dict(img_path='images/'),
                       split='val', check_images=False)
    assert words in str(err.value)


def test_gres_folder_of_any_name(tool, tmp_path, capsys):
    """--gres: a grefs folder that is not named grefcoco (a converted one)."""
    from asda.synthetic.gres import make_synthetic_grefcoco
    make_synthetic_grefcoco(str(tmp_path), seed=2,
                            split_sizes=dict(train=2, val=1, testA=1, testB=1))
    os.rename(tmp_path / 'grefcoco', tmp_path / 'mine')
    args = ['--data-root', str(tmp_path), '--img-dir', 'images', '--dataset', 'mine:unc']
    assert tool.main(args) == 1
    assert f"{tmp_path / 'mine' / 'refs(unc).p'}: missing" in capsys.readouterr().out
    assert tool.main(args + ['--gres']) == 0, capsys.readouterr().out
