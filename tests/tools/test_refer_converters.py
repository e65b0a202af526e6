"""tools/dataset_converters/{masks,coco,labelme}_to_refer.py on a small
fixture of each format: the converted folder loads through RefCOCODataset /
GRefCOCODataset with the source masks (PNG: pixel for pixel; polygons: their
rasterisation), one training step runs on it, and each bad input stops the
conversion with an error naming its file and row, leaving nothing."""
import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from asda_test_utils import ROOT, load_tool
from converter_fixtures import (
    coco_fixture,
    labelme_fixture,
    loaded_masks,
    mask_fixture,
    write_rows,
)

from asda.datasets.mask_utils import decode_segmentation

TOOLS = 'tools/dataset_converters'


@pytest.fixture(scope='module')
def tools():
    return {name: load_tool(f'{TOOLS}/{name}_to_refer.py', f'asda_{name}_to_refer')
            for name in ('masks', 'coco', 'labelme')}


def _args(kind, fx, expressions, out, *extra):
    """The tool's command line for fixture ``fx``."""
    if kind == 'masks':
        return [expressions, fx['image_dir'], fx['mask_dir'], str(out), *extra]
    if kind == 'coco':
        return [fx['instances'], expressions, fx['image_dir'], str(out), *extra]
    return [fx['labelme_dir'], str(out), *extra]


@pytest.fixture(scope='module')
def converted(tools, small_dataset, tmp_path_factory):
    """Each fixture converted once: kind -> (fixture, output folder, stdout)."""
    root = tmp_path_factory.mktemp('converters')
    fixtures = dict(masks=mask_fixture(root / 'masks_in'),
                    coco=coco_fixture(root / 'coco_in', small_dataset),
                    labelme=labelme_fixture(root / 'labelme_in'))
    done = {}
    for kind, fx in fixtures.items():
        rows = write_rows(root / f'{kind}.jsonl', fx['rows']) if 'rows' in fx else None
        out = root / f'{kind}_out'
        assert tools[kind].main(_args(kind, fx, rows, out)) == 0
        done[kind] = (fx, out)
    return done


def _left_over(out):
    """What a conversion to ``out`` left: ``out`` and hidden siblings."""
    parent = osp.dirname(out)
    return [n for n in os.listdir(parent) if n == osp.basename(out) or n.startswith('.')]


def _refs(out, name='refcoco/refs(unc).p'):
    with open(osp.join(out, name), 'rb') as f:
        return pickle.load(f) if name.endswith('.p') else json.load(f)


@pytest.mark.parametrize('kind', ['masks', 'coco', 'labelme'])
def test_converted_masks_load_as_the_source(converted, kind):
    fx, out = converted[kind]
    found = loaded_masks(str(out))
    assert sorted(found) == sorted(fx['expected'])
    for text, (name, source) in fx['expected'].items():
        if kind == 'labelme':  # polygons: their rasterisation
            h, w = found[text][1].shape
            source = decode_segmentation(source, h, w) > 0
        assert found[text][0] == name, text
        np.testing.assert_array_equal(found[text][1], source, err_msg=text)
    with open(osp.join(out, 'refcoco', 'counts.json')) as f:
        counts = json.load(f)['counts']['unc']
    refs = _refs(out)
    for split, c in counts.items():
        in_split = [r for r in refs if r['split'] == split]
        assert c == dict(refs=len(in_split),
                         expressions=sum(len(r['sentences']) for r in in_split),
                         images=len({r['image_id'] for r in in_split}))
    # splits by image: no image in two splits
    assert len({(r['image_id'], r['split']) for r in refs}) == len({r['image_id'] for r in refs})


def test_masks_splits_groups_and_csv(converted, tools, tmp_path, capsys):
    fx, out = converted['masks']
    refs = _refs(out)
    assert {r['split'] for r in refs} == {'train', 'val', 'test'}  # drawn 3:1:1 by image
    # two rows naming one mask: one ref, its sentences in row order
    [shared] = [r for r in refs if len(r['sentences']) == 2]
    assert [s['sent'] for s in shared['sentences']] == ['the upper left block', 'top left one']
    assert [s['raw'] for s in shared['sentences']][1] == 'top left  one'
    assert shared['sentences'][0]['row_id'] == 'r1'
    with open(osp.join(out, 'refcoco', 'instances.json')) as f:
        coco = json.load(f)
    assert len(coco['annotations']) == 8  # b_ids.png's instance 7 is named by no row
    # the same rows as CSV, images linked: the same dataset
    rows = write_rows(tmp_path / 'rows.csv', fx['rows'])
    csv_out = tmp_path / 'csv_out'
    assert tools['masks'].main(_args('masks', fx, rows, csv_out, '--images', 'symlink')) == 0
    assert _refs(csv_out) == refs
    assert osp.islink(csv_out / 'images' / 'a.png')
    assert osp.realpath(csv_out / 'images' / 'a.png') == \
        osp.realpath(osp.join(fx['image_dir'], 'a.png'))
    printed = capsys.readouterr().out
    assert 'refcoco (unc) | train' in printed  # the data check's table
    assert f'wrote {csv_out}: 5 images, 8 annotations, 8 refs, 9 expressions' in printed
    # another seed, other splits; the same seed, the same splits
    again = tmp_path / 'again'
    assert tools['masks'].main(_args('masks', fx, rows, again, '--seed', '0',
                                     '--split-ratios', 'train=1', 'val=1')) == 0
    assert {r['split'] for r in _refs(again)} == {'train', 'val'}


def test_coco_keeps_ids_splits_and_other_objects(converted):
    fx, out = converted['coco']
    with open(osp.join(out, 'refcoco', 'instances.json')) as f:
        coco = json.load(f)
    assert coco['annotations'] == fx['coco']['annotations']  # every object of the images
    assert coco['categories'] == fx['coco']['categories']
    by_image = {}
    for row in fx['rows']:
        by_image[row['image']] = row['split']
    images = {i['id']: i['file_name'] for i in coco['images']}
    assert {images[r['image_id']]: r['split'] for r in _refs(out)} == by_image
    assert set(by_image.values()) == {'train', 'val', 'testA', 'testB'}


def test_labelme_objects_and_categories(converted):
    _, out = converted['labelme']
    with open(osp.join(out, 'refcoco', 'instances.json')) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories']}
    assert sorted(names[a['category_id']] for a in coco['annotations']) == [
        'ball', 'box', 'cat', 'cat', 'dog', 'sky']  # the unnamed cat is kept
    dog = next(a for a in coco['annotations'] if names[a['category_id']] == 'dog')
    assert len(dog['segmentation']) == 2  # the group's two shapes: one object
    assert [i['file_name'] for i in coco['images']] == ['more/r.jpg', 'p.jpg', 'q.jpg']


def test_gres_conversions(tools, small_dataset, tmp_path):
    """--gres: several targets (their union) and none (an empty mask), read
    by GRefCOCODataset from grefcoco/grefs(unc).json."""
    fx = mask_fixture(tmp_path / 'masks')
    rows = [dict(image='b.png', expression='both squares', mask='b_ids.png',
                 instance_ids=[1, 2], split='train'),
            dict(image='a.png', expression='both blocks', mask=['a_0.png', 'a_1.png'],
                 split='train'),
            dict(image='a.png', expression='a purple whale', split='train'),
            dict(image='b.png', expression='the small square', mask='b_ids.png',
                 instance_ids=[1], split='train')]
    out = tmp_path / 'gres_out'
    assert tools['masks'].main(_args('masks', fx, write_rows(tmp_path / 'g.csv', rows), out,
                                     '--gres')) == 0
    found = loaded_masks(str(out), 'grefcoco/grefs(unc).json', gres=True)
    a0, a1 = fx['expected']['the upper left block'][1], fx['expected']['the notched block'][1]
    small, big = fx['expected']['small square'][1], fx['expected']['the big one'][1]
    np.testing.assert_array_equal(found['both squares'][1], small | big)
    np.testing.assert_array_equal(found['both blocks'][1], a0 | a1)
    np.testing.assert_array_equal(found['the small square'][1], small)
    assert not found['a purple whale'][1].any()
    grefs = _refs(out, 'grefcoco/grefs(unc).json')
    nothing = next(g for g in grefs if g['sentences'][0]['sent'] == 'a purple whale')
    assert nothing['ann_id'] == [-1] and nothing['no_target'] is True
    # COCO: ann_ids lists, the empty one no target
    cf = coco_fixture(tmp_path / 'coco', small_dataset)
    first = cf['coco']['annotations'][:2]
    assert first[0]['image_id'] == first[1]['image_id']
    image = next(i['file_name'] for i in cf['coco']['images'] if i['id'] == first[0]['image_id'])
    coco_rows = [dict(image=image, expression='those two', ann_ids=[a['id'] for a in first]),
                 dict(image=image, expression='no such thing', ann_ids=[])]
    out = tmp_path / 'coco_gres'
    assert tools['coco'].main(_args('coco', cf, write_rows(tmp_path / 'c.jsonl', coco_rows),
                                    out, '--gres', '--split-ratios', 'train=1')) == 0
    found = loaded_masks(str(out), 'grefcoco/grefs(unc).json', gres=True)
    h, w = found['those two'][1].shape
    union = np.zeros((h, w), bool)
    for a in first:
        union |= decode_segmentation(a['segmentation'], h, w) > 0
    np.testing.assert_array_equal(found['those two'][1], union)
    assert not found['no such thing'][1].any()


@pytest.mark.slow
def test_one_training_step_on_each_converted_dataset(converted):
    """A batch of one sample of each converted folder trains the tiny
    model: finite loss, weights move."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS, MODELS
    init_default_scope('mmseg')
    pipeline = [dict(type='LoadReferringImage'), dict(type='LoadReferringAnnotations'),
                dict(type='ReferringResize', scale=(64, 64), keep_ratio=True),
                dict(type='PackReferringInputs')]
    batch = [DATASETS.build(dict(type='RefCOCODataset', data_root=str(out),
                                 data_prefix=dict(img_path='images/'), split=split,
                                 pipeline=pipeline))[0]
             for (_, out), split in zip(converted.values(), ('train', 'train', 'train'))]
    cfg = Config.fromfile(osp.join(ROOT, 'configs/asda/_base_/models/asda_tiny-clip.py')).model
    cfg.data_preprocessor.update(size=(64, 64), test_cfg=dict(size=(64, 64)))
    cfg.backbone.img_size = 64
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = model.train_step(pseudo_collate(batch), optim)
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def _corrupt(kind, fx, rows, case, tmp_path):
    """Apply one bad input ``case`` to a fresh fixture; returns the rows
    and the text the error must hold (with the file and row)."""
    if kind == 'masks':
        from PIL import Image
        exp = 'expressions.jsonl line 1'
        if case == 'size':
            Image.fromarray(np.zeros((31, 40), np.uint8)).save(osp.join(fx['mask_dir'],
                                                                        'a_0.png'))
            return rows, f'{exp}: mask a_0.png is 31x40 (height x width), its image 30x40'
        if case == 'empty':
            Image.fromarray(np.zeros((30, 40), np.uint8)).save(osp.join(fx['mask_dir'],
                                                                        'a_0.png'))
            return rows, f'{exp}: mask a_0.png is empty'
        if case == 'no target':
            rows[2].pop('mask')
            return rows, 'expressions.jsonl line 3: the expression has no target'
        if case == 'unknown image':
            rows[4]['image'] = 'zz.png'
            return rows, "expressions.jsonl line 5: unknown image 'zz.png'"
        rows[5]['id'] = 'r1'
        return rows, "expressions.jsonl line 6: duplicate id 'r1' (also on "
    if kind == 'coco':
        coco = fx['coco']
        if case == 'size':
            coco['images'][0]['height'] += 1
            img = coco['images'][0]
            return rows, (f'expressions.jsonl line 1: image {fx["image_dir"]}/'
                          f'{img["file_name"]} is {img["height"] - 1}x{img["width"]}')
        if case == 'empty':
            ann = next(a for a in coco['annotations'] if a['id'] == rows[0]['ann_id'])
            ann['segmentation'] = [[5, 5, 6, 6, 7, 7]]  # collinear: no pixel
            return rows, f'line 1: annotation id={ann["id"]}: its mask is empty'
        if case == 'no target':
            rows[1].pop('ann_id')
            return rows, 'expressions.jsonl line 2: the expression has no target'
        if case == 'unknown image':
            rows[2]['image'] = 'nope.jpg'
            return rows, "expressions.jsonl line 3: unknown image 'nope.jpg'"
        coco['annotations'][1]['id'] = coco['annotations'][0]['id']
        return rows, (f'instances.json: duplicate annotation id {coco["annotations"][0]["id"]} '
                      '(annotations #0, #1)')
    p = osp.join(fx['labelme_dir'], 'p.json')
    with open(p) as f:
        data = json.load(f)
    if case == 'size':
        data['imageHeight'] = 25
        message = f'{p}: imageHeight x imageWidth 25x30 differ from the image'
    elif case == 'empty':
        data['shapes'][0]['points'] = [[1, 1], [5, 5], [9, 9]]
        message = f'{p} shape 0: the shape covers no pixel (an empty mask)'
    elif case == 'no target':  # labelme has none: an expression of two objects
        data['shapes'][1]['description'] = 'the striped cat'
        message = f"{p} shape 0: the expression 'the striped cat' is given to 2 objects"
    elif case == 'unknown image':
        data['imagePath'] = 'gone.jpg'
        message = f"{p}: unknown image 'gone.jpg'"
    else:
        with open(osp.join(fx['labelme_dir'], 'q.json')) as f:
            other = json.load(f)
        with open(osp.join(fx['labelme_dir'], 'p2.json'), 'w') as f:
            json.dump(dict(other, imagePath='p.jpg', imageHeight=24, imageWidth=30), f)
        message = f"p2.json: duplicate image 'p.jpg': {p} annotates it too"
    with open(p, 'w') as f:
        json.dump(data, f)
    return rows, message


@pytest.mark.parametrize('case', ['size', 'empty', 'no target', 'unknown image', 'duplicate'])
@pytest.mark.parametrize('kind', ['masks', 'coco', 'labelme'])
def test_bad_input_is_named_and_leaves_nothing(tools, small_dataset, tmp_path, capsys,
                                               kind, case):
    make = dict(masks=lambda: mask_fixture(tmp_path / 'in'),
                coco=lambda: coco_fixture(tmp_path / 'in', small_dataset),
                labelme=lambda: labelme_fixture(tmp_path / 'in'))
    fx = make[kind]()
    rows, message = _corrupt(kind, fx, [dict(r) for r in fx.get('rows', [])], case, tmp_path)
    if kind == 'coco':
        with open(fx['instances'], 'w') as f:
            json.dump(fx['coco'], f)
    expressions = write_rows(tmp_path / 'in' / 'expressions.jsonl', rows) if rows else None
    out = tmp_path / 'out'
    capsys.readouterr()
    assert tools[kind].main(_args(kind, fx, expressions, out)) == 1
    error = capsys.readouterr().err
    assert message in error, error
    assert _left_over(str(out)) == []


@pytest.mark.parametrize('kind', ['coco', 'labelme'])
def test_a_file_that_is_no_json_is_named(tools, small_dataset, tmp_path, capsys, kind):
    """An instances file or a labelme file that is no JSON stops the
    conversion, naming the file and the parser's complaint."""
    if kind == 'coco':
        fx = coco_fixture(tmp_path / 'in', small_dataset)
        path = fx['instances']
        expressions = write_rows(tmp_path / 'in' / 'expressions.jsonl', fx['rows'])
    else:
        fx = labelme_fixture(tmp_path / 'in')
        path, expressions = osp.join(fx['labelme_dir'], 'p.json'), None
    with open(path, 'w') as f:
        f.write('{"shapes": [')
    out = tmp_path / 'out'
    capsys.readouterr()
    assert tools[kind].main(_args(kind, fx, expressions, out)) == 1
    error = capsys.readouterr().err
    assert f'{path}: cannot be read as JSON (Expecting value: line 1 column 13' in error, error
    assert _left_over(str(out)) == []


def test_a_failed_data_check_leaves_nothing(tools, tmp_path, capsys):
    """An image whose header reads but whose data is cut short passes the
    input checks; the data check on the written folder stops the
    conversion, and the folder is removed."""
    fx = mask_fixture(tmp_path / 'in')
    path = osp.join(fx['image_dir'], 'c.png')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    out = tmp_path / 'out'
    rows = write_rows(tmp_path / 'rows.jsonl', fx['rows'])
    assert tools['masks'].main(_args('masks', fx, rows, out)) == 1
    error = capsys.readouterr().err
    assert 'the data check of the converted folder failed' in error and 'c.png' in error
    assert _left_over(str(out)) == []


def test_existing_output_needs_overwrite(tools, converted, tmp_path, capsys):
    fx, _ = converted['masks']
    rows = write_rows(tmp_path / 'rows.jsonl', fx['rows'][:5])
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'old.txt').write_text('old')
    assert tools['masks'].main(_args('masks', fx, rows, out)) == 1
    assert 'exists' in capsys.readouterr().err and (out / 'old.txt').exists()
    assert tools['masks'].main(_args('masks', fx, rows, out, '--overwrite',
                                     '--split-ratios', 'train=1')) == 0
    assert sorted(os.listdir(out)) == ['images', 'refcoco']
    assert sorted(os.listdir(tmp_path)) == ['out', 'rows.jsonl']


def test_labelme_gres_expression_of_two_objects(tools, tmp_path):
    """With --gres an expression given to two shapes refers to both."""
    fx = labelme_fixture(tmp_path / 'in')
    p = osp.join(fx['labelme_dir'], 'p.json')
    with open(p) as f:
        data = json.load(f)
    data['shapes'][1]['description'] = 'the striped cat'
    with open(p, 'w') as f:
        json.dump(data, f)
    out = tmp_path / 'out'
    assert tools['labelme'].main(_args('labelme', fx, None, out, '--gres')) == 0
    found = loaded_masks(str(out), 'grefcoco/grefs(unc).json', gres=True)
    h, w = found['the striped cat'][1].shape
    cat, box = (decode_segmentation(fx['expected'][t][1], h, w) > 0
                for t in ('the striped cat', 'the box'))
    np.testing.assert_array_equal(found['the striped cat'][1], cat | box)
    np.testing.assert_array_equal(found['the cat on the left'][1], cat)
