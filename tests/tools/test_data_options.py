"""``--data-root``, the pre-flight image check and ``--skip-bad-samples`` in
``tools/test.py`` / ``tools/train.py``."""
import json
import pickle
import shutil

import pytest
from asda_test_utils import save_random_checkpoint, write_config

from asda.datasets import BadImagesError
from asda.engine import load_run_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def checkpoint(tool_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp('data_opts')
    cfg = write_config(root / 'cfg.py', tool_dataset)
    path = root / 'random.pth'
    save_random_checkpoint(path, cfg, seed=0)
    return str(path)


def _cut(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def test_data_root_option_sets_every_dataloader(tool_dataset, tmp_path):
    cfg_file = write_config(tmp_path / 'cfg.py', '/nowhere/coco/')

    class Args:
        data_root = tool_dataset
        skip_bad_samples = True
        no_image_check = False

    cfg = load_run_config(cfg_file, args=Args)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == tool_dataset
        assert cfg[loader].dataset.skip_bad_samples is True
    with pytest.warns(UserWarning, match='test_dataloader.dataset.data_root'):
        cfg = load_run_config(cfg_file, cfg_options={'data_root': tool_dataset})
    assert cfg.test_dataloader.dataset.data_root == '/nowhere/coco/'


def test_test_tool_with_data_root_elsewhere(tool_dataset, tmp_path, test_tool,
                                            checkpoint):
    cfg = write_config(tmp_path / 'cfg.py', '/nowhere/coco/')
    metrics = test_tool.main([cfg, checkpoint, '--work-dir', str(tmp_path / 'w'),
                              '--data-root', tool_dataset, '--cfg-options',
                              'experiment_name=data_root_elsewhere'])
    assert 0 <= metrics['oIoU'] <= 100


def _copy_split(tool_dataset, tmp_path, split):
    """A copy of the dataset, and the refs of ``split`` with their images'
    file names by image id."""
    root = tmp_path / 'data'
    shutil.copytree(tool_dataset, root)
    refs = pickle.load(open(root / 'refcoco' / 'refs(unc).p', 'rb'))
    coco = json.load(open(root / 'refcoco' / 'instances.json'))
    names = {img['id']: img['file_name'] for img in coco['images']}
    return root, [r for r in refs if r['split'] == split], names


@pytest.fixture
def broken(tool_dataset, tmp_path):
    """Copy with the first two images of split train gone / cut in half."""
    root, test_refs, names = _copy_split(tool_dataset, tmp_path, 'train')
    images = sorted({names[r['image_id']] for r in test_refs})
    (root / 'images' / images[0]).unlink()
    _cut(root / 'images' / images[1])
    total = sum(len(r['sentences']) for r in test_refs)
    bad = sum(len(r['sentences']) for r in test_refs
              if names[r['image_id']] in images[:2])
    return str(root), images[:2], total, bad


def test_test_tool_stops_before_evaluating_bad_data(broken, tmp_path, test_tool,
                                                    checkpoint):
    root, bad_images, _, _ = broken
    cfg = write_config(tmp_path / 'cfg.py', root)
    with pytest.raises(BadImagesError) as err:
        test_tool.main([cfg, checkpoint, '--split', 'train', '--work-dir',
                        str(tmp_path / 'w'), '--cfg-options',
                        'experiment_name=bad_data_stops'])
    for name in bad_images:
        assert name in str(err.value)


def test_skip_bad_samples_evaluates_the_rest(broken, tmp_path, test_tool,
                                             checkpoint):
    root, bad_images, total, bad = broken
    cfg = write_config(tmp_path / 'cfg.py', root)
    out = tmp_path / 'out.json'
    test_tool.main([cfg, checkpoint, '--split', 'train', '--skip-bad-samples',
                    '--out', str(out), '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options', 'experiment_name=bad_data_skips'])
    report = json.loads(out.read_text())
    assert report['total'] == total and report['evaluated'] == total - bad
    assert len(report['records']) == total - bad
    assert {s['img_path'].rsplit('/', 1)[-1] for s in report['skipped']} == \
        set(bad_images)
    # the run's log file (work_dir/<timestamp>/<timestamp>.log)
    printed = ''.join(p.read_text() for p in (tmp_path / 'w').glob('*/*.log'))
    assert f'{total - bad} of {total}' in printed
    assert f'evaluated {total - bad} of {total} expressions' in printed


def test_train_tool_stops_before_training_on_bad_data(broken, tmp_path,
                                                      train_tool):
    root, bad_images, _, _ = broken
    cfg = write_config(tmp_path / 'cfg.py', root)
    with pytest.raises(BadImagesError, match=bad_images[0]):
        train_tool.main([cfg, '--work-dir', str(tmp_path / 'w'),
                         '--cfg-options', 'experiment_name=bad_train'])
    assert not list((tmp_path / 'w').glob('*.pth'))


def test_skip_bad_samples_with_every_sample_bad_fails(tool_dataset, tmp_path,
                                                      test_tool, checkpoint):
    root, split, names = _copy_split(tool_dataset, tmp_path, 'testA')
    for name in {names[r['image_id']] for r in split}:
        (root / 'images' / name).unlink()
    total = sum(len(r['sentences']) for r in split)
    cfg = write_config(tmp_path / 'cfg.py', str(root))
    with pytest.raises(BadImagesError, match=f'all {total} samples of split '
                       "'testA'.* were skipped"):
        test_tool.main([cfg, checkpoint, '--split', 'testA',
                        '--skip-bad-samples', '--work-dir', str(tmp_path / 'w'),
                        '--cfg-options', 'experiment_name=all_bad'])
