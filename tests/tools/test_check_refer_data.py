"""tools/dataset_converters/check_refer_data.py on the synthetic dataset and
on broken copies of it."""
import json
import os
import os.path as osp
import pathlib
import pickle
import shutil

import pytest
from asda_test_utils import load_tool

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


def test_passes_on_synthetic_data(tool, tool_dataset, capsys):
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
    assert 'checking images: ' in captured.err  # progress


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


def _missing_annotation(root):
    refs = _refs(root)
    refs[2]['ann_id'] = 987654
    _write_refs(root, refs)
    return [f'ref_id {refs[2]["ref_id"]} ({refs[2]["split"]}) refers to '
            'annotation 987654']


def _split_counts_differ(root):
    dropped = _refs(root)
    test_b = [r for r in dropped if r['split'] == 'testB']
    refs = [r for r in dropped if r is not test_b[0]]
    _write_refs(root, refs)
    counts = json.load(open(root / 'refcoco' / 'counts.json'))['counts']
    want = counts['unc']['testB']['refs']
    return [f"refcoco (unc) split 'testB': {want - 1} refs, expected {want}"]


@pytest.mark.parametrize('corrupt', [_missing_image, _truncated_image,
                                     _missing_annotation, _split_counts_differ])
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


def test_published_counts_are_sourced(tool):
    for (name, split_by), splits in tool.PUBLISHED.items():
        assert split_by in tool.DATASETS[name]
        for kinds in splits.values():
            for kind, (count, source) in kinds.items():
                assert kind in tool.KINDS and count > 0 and source in tool.SOURCES


def test_grefcoco_lists_and_no_target(tool, tmp_path, capsys):
    """gRefCOCO's grefs (lists of annotation ids, [-1] for no target) pass;
    a missing annotation inside a multi-target gref is named."""
    from asda.datasets.synthetic_gres import make_synthetic_grefcoco
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
    assert f'ref_id {multi["ref_id"]}' in out and 'annotation 987654' in out
