"""What a recorded result says about where it came from
(asda.utils.provenance)."""
import os.path as osp

from asda.utils.provenance import machine_info, portable_paths


def test_portable_paths_keep_no_folder_of_the_machine(tmp_path):
    root = str(tmp_path / 'repo')
    record = dict(
        config=osp.join(root, 'configs', 'a.py'),
        command=f'{root}/.venv/bin/python {root}/tools/x.py --out /scratch/u/run/x.pt -v',
        files=[osp.join(root, 'checkpoints', '..', 'checkpoints', 'c.pth'),
               '/elsewhere/epoch_12.pth', 'already/relative.json', root],
        steps=3, nested=dict(flag=True, none=None))
    assert portable_paths(record, root) == dict(
        config='configs/a.py',
        command='.venv/bin/python tools/x.py --out x.pt -v',
        files=['checkpoints/c.pth', 'epoch_12.pth', 'already/relative.json', '.'],
        steps=3, nested=dict(flag=True, none=None))
    # a folder that only starts like the root is not under it
    assert portable_paths(root + '-other/f.txt', root) == 'f.txt'


def test_machine_info_names_no_host():
    info = machine_info('cpu')
    assert set(info) == {'cpu', 'cpu_count', 'torch_threads', 'device', 'platform', 'torch'}
    assert info['device'] == 'cpu' and info['cpu'] and info['torch_threads'] >= 1


def test_portable_paths_within_text(tmp_path):
    """A config's text and URLs: quoted paths are found, URLs and relative
    paths are left alone."""
    root = str(tmp_path)
    text = (f"pretrained='{root}/configs/asda/../../ck.pt'\n"
            f"data_root = \"/data/coco\"  # see https://example.org/a/b\n"
            f"work_dir='work_dirs/x', files=[{root}/a.json]")
    assert portable_paths(text, root) == (
        "pretrained='ck.pt'\n"
        "data_root = \"coco\"  # see https://example.org/a/b\n"
        "work_dir='work_dirs/x', files=[a.json]")
