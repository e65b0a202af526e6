"""demo/batch_demo.py: a run cut short, run again, finishes without redoing
the rows it had saved; its RLE and PNG masks are the inferencer's."""
import glob
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from asda_test_utils import load_tool, save_random_checkpoint, write_config
from converter_fixtures import write_rows

from asda.apis import RISInferencer
from asda.datasets.mask_utils import decode_segmentation

TEXTS = ['the red circle', 'the blue square on the left']


@pytest.fixture(scope='module')
def model(tool_dataset, tmp_path_factory):
    """Config, checkpoint, a threshold that gives masks of several parts
    (the median probability of the random-init model) and its inferencer."""
    work = tmp_path_factory.mktemp('batch_demo')
    cfg = write_config(work / 'cfg.py', tool_dataset)
    ckpt = str(work / 'model.pth')
    save_random_checkpoint(ckpt, cfg, seed=1)
    inferencer = RISInferencer(cfg, ckpt)
    image = sorted(glob.glob(osp.join(tool_dataset, 'images', '*.jpg')))[0]
    threshold = f"{np.median(inferencer(image, TEXTS[0])[0]['prob']):.6f}"
    inferencer.model.decode_head.threshold = float(threshold)  # the tool's, parsed
    return cfg, ckpt, threshold, inferencer


class _Counting:
    """RISInferencer.__call__ that counts the expressions it is given and
    stops the run (as a kill would) on call number ``stop_at``."""

    def __init__(self, monkeypatch, stop_at=None):
        self.calls, self.expressions, self.stop_at = 0, [], stop_at
        original = RISInferencer.__call__
        counter = self

        def call(inferencer, image, expressions):
            counter.calls += 1
            if counter.calls == counter.stop_at:
                raise KeyboardInterrupt
            counter.expressions += list(expressions)
            return original(inferencer, image, expressions)

        monkeypatch.setattr(RISInferencer, '__call__', call)


def test_killed_run_resumes_and_matches_the_inferencer(tool_dataset, model, tmp_path,
                                                       monkeypatch, capsys):
    cfg, ckpt, threshold, inferencer = model
    images = sorted(os.listdir(osp.join(tool_dataset, 'images')))[:3]
    rows = [dict(image=name, expression=text, id=f'{name}:{k}')
            for name in images for k, text in enumerate(TEXTS)]
    rows_file = write_rows(tmp_path / 'rows.csv', rows)
    out = tmp_path / 'out'
    args = [rows_file, cfg, ckpt, '--out-dir', str(out), '--image-dir',
            osp.join(tool_dataset, 'images'), '--threshold', threshold, '--save-every', '1']
    demo = load_tool('demo/batch_demo.py', 'asda_batch_demo')
    first = _Counting(monkeypatch, stop_at=2)  # killed on the second image
    with pytest.raises(KeyboardInterrupt):
        demo.main(args)
    with open(out / 'results.json') as f:
        saved = json.load(f)  # whole: written atomically
    assert [r['row'] for r in saved['rows']] == [1, 2] and first.expressions == TEXTS
    assert sorted(os.listdir(out)) == ['masks', 'results.json']  # no temporary file
    again = _Counting(monkeypatch)
    assert demo.main(args) == 0
    assert again.calls == 2 and again.expressions == TEXTS * 2  # rows 3-6 only
    assert '4 row(s) segmented, 2 already done' in capsys.readouterr().out
    with open(out / 'results.json') as f:
        results = json.load(f)
    assert results['rows'][:2] == saved['rows']
    assert [(r['row'], r['id'], r['image'], r['expression']) for r in results['rows']] == [
        (k, row['id'], row['image'], row['expression']) for k, row in enumerate(rows, 1)]
    monkeypatch.undo()
    for entry in results['rows']:
        path = osp.join(tool_dataset, 'images', entry['image'])
        expected = inferencer(path, entry['expression'])[0]
        h, w = expected['mask'].shape
        mask = decode_segmentation(entry['rle'], h, w) > 0
        np.testing.assert_array_equal(mask, expected['mask'])
        png = cv2.imread(str(out / entry['mask_file']), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(png > 0, expected['mask'])
        assert entry['box'] == expected['box']
        assert entry['score'] == pytest.approx(expected['score'])
        assert entry['afs_layers'] == list(expected['afs_layers'])
    assert any(e['box'] is not None for e in results['rows'])
    # a third run has nothing left to do; another threshold is refused
    assert demo.main(args) == 0 and '0 row(s) segmented, 6 already done' in \
        capsys.readouterr().out
    assert demo.main(args[:-4] + ['--threshold', '0.9']) == 1
    assert 'was written with threshold' in capsys.readouterr().err


def test_folder_input(tool_dataset, model, tmp_path, capsys):
    cfg, ckpt, threshold, _ = model
    folder = tmp_path / 'images'
    folder.mkdir()
    for name in sorted(os.listdir(osp.join(tool_dataset, 'images')))[:2]:
        os.symlink(osp.join(tool_dataset, 'images', name), folder / name)
    (folder / 'notes.txt').write_text('not an image')
    demo = load_tool('demo/batch_demo.py', 'asda_batch_demo')
    out = tmp_path / 'out'
    assert demo.main([str(folder), cfg, ckpt, '--out-dir', str(out)]) == 1
    assert 'needs at least one --expression' in capsys.readouterr().err
    assert demo.main([str(folder), cfg, ckpt, '--out-dir', str(out), '-e', TEXTS[0],
                      '-e', TEXTS[1], '--threshold', threshold]) == 0
    with open(out / 'results.json') as f:
        entries = json.load(f)['rows']
    names = sorted(n for n in os.listdir(folder) if n.endswith('.jpg'))
    assert [(e['image'], e['expression']) for e in entries] == [
        (n, t) for n in names for t in TEXTS]
    assert sorted(os.listdir(out / 'masks')) == [f'{k:06d}.png' for k in range(1, 5)]


def test_gres_instances_in_results(tmp_path):
    """A GRES model's instances are written with their RLE, box, area and
    score (run_batch with a stand-in for the inferencer)."""
    from asda.apis.batch import BatchRow, run_batch
    from asda.apis.inference import mask_outputs
    mask = np.zeros((20, 30), bool)
    mask[2:8, 3:12] = True
    mask[12:18, 20:28] = True
    prob = mask * np.float32(0.8)

    def gres_inferencer(image, expressions):
        return [dict(mask=mask, afs_layers=(4, 8), no_target=0.1, truncated=False,
                     **mask_outputs(mask, prob, instances=True)) for _ in expressions]

    rows = [BatchRow(1, None, 'a.jpg', 'a.jpg', 'both things')]
    [entry] = run_batch(gres_inferencer, rows, str(tmp_path), dict(config='c'),
                        progress=False)['rows']
    assert [(p['box'], p['area']) for p in entry['instances']] == [
        ([3, 2, 9, 6], 54), ([20, 12, 8, 6], 48)]
    union = sum(decode_segmentation(p['rle'], 20, 30) for p in entry['instances'])
    np.testing.assert_array_equal(union > 0, mask)
    assert entry['no_target'] == 0.1 and entry['score'] == pytest.approx(0.8)


def test_bad_images_stop_the_batch_before_the_model(tool_dataset, model, tmp_path,
                                                    monkeypatch, capsys):
    from asda_test_utils import write_png_bomb
    cfg, ckpt, _, _ = model
    images = tmp_path / 'images'
    images.mkdir()
    name = sorted(os.listdir(osp.join(tool_dataset, 'images')))[0]
    os.symlink(osp.join(tool_dataset, 'images', name), images / name)
    write_png_bomb(images / 'bomb.png', 300, 200)
    rows = [dict(image=name, expression=TEXTS[0]), dict(image='bomb.png', expression=TEXTS[0]),
            dict(image='bomb.png', expression=TEXTS[1])]
    rows_file = write_rows(images / 'rows.jsonl', rows)

    def no_model(*args, **kwargs):
        raise AssertionError('the model was built before the images were checked')

    monkeypatch.setattr(RISInferencer, '__init__', no_model)
    demo = load_tool('demo/batch_demo.py', 'asda_batch_demo')
    out = tmp_path / 'out'
    assert demo.main([rows_file, cfg, ckpt, '--out-dir', str(out),
                      '--max-pixels', str(300 * 200 - 1)]) == 1
    err = capsys.readouterr().err
    assert 'row 2 (bomb.png)' in err and '300 x 200' in err and 'row 3' not in err
    assert not out.exists()


def test_an_image_that_fails_late_keeps_the_rows_done(tool_dataset, model, tmp_path, capsys):
    cfg, ckpt, threshold, _ = model
    images = tmp_path / 'images'
    images.mkdir()
    names = sorted(os.listdir(osp.join(tool_dataset, 'images')))[:3]
    for name in names:
        os.symlink(osp.join(tool_dataset, 'images', name), images / name)
    with open(osp.join(tool_dataset, 'images', names[0]), 'rb') as f:
        whole = f.read()
    (images / 'cut.jpg').write_bytes(whole[:len(whole) // 3])  # a header, then too little
    rows = [dict(image=n, expression=TEXTS[0]) for n in names[:2]] + [
        dict(image='cut.jpg', expression=TEXTS[0]), dict(image=names[2], expression=TEXTS[0])]
    rows_file = write_rows(images / 'rows.jsonl', rows)
    demo = load_tool('demo/batch_demo.py', 'asda_batch_demo')
    out = tmp_path / 'out'
    args = [rows_file, cfg, ckpt, '--out-dir', str(out), '--threshold', threshold,
            '--save-every', '10']
    assert demo.main(args) == 1
    err = capsys.readouterr().err
    assert 'row 3 (cut.jpg)' in err and 'run again' in err
    with open(out / 'results.json') as f:
        assert [r['row'] for r in json.load(f)['rows']] == [1, 2]  # saved although < 10
    os.remove(images / 'cut.jpg')
    os.symlink(osp.join(tool_dataset, 'images', names[0]), images / 'cut.jpg')
    assert demo.main(args) == 0
    assert '2 row(s) segmented, 2 already done' in capsys.readouterr().out
