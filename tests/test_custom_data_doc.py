"""docs/custom_data.md, run: every command of its bash blocks, in order, in
a fresh folder holding small inputs of each converter under the page's
names, with the page's config files written from its python blocks.

The page's commands run as written, but for what keeps the test fast:
training stops after one epoch (so ``epoch_12.pth`` is ``epoch_1.pth``),
the loaders start no worker process, and the web demo is not served: its
command line is parsed and its request handler (``DemoModel``, which needs
no gradio) segments one image."""
import os
import os.path as osp
import re
import shlex

import pytest
from asda_test_utils import ROOT, load_tool
from converter_fixtures import coco_fixture, labelme_fixture, mask_fixture, write_rows
from mmengine.config import Config

DOC = osp.join(ROOT, 'docs', 'custom_data.md')
#: --cfg-options added to the commands that build data loaders.
NO_WORKERS = [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader',
                                               'test_dataloader')
              for key in ('num_workers=0', 'persistent_workers=False')]


def blocks(text: str, language: str):
    """The fenced ``language`` blocks of ``text``."""
    return re.findall(rf'```{language}\n(.*?)```', text, flags=re.S)


def commands(text: str):
    """The command lines of the bash blocks, split as a shell would."""
    return [shlex.split(line) for block in blocks(text, 'bash')
            for line in block.splitlines() if line.strip()]


def _with_options(argv, options):
    """``argv`` with ``options`` added to its ``--cfg-options``."""
    if '--cfg-options' in argv:
        k = argv.index('--cfg-options') + 1
        return argv[:k] + options + argv[k:]
    return argv + ['--cfg-options'] + options


@pytest.fixture
def user_folder(tmp_path, small_dataset, monkeypatch):
    """A working folder with the page's inputs: my_data/ (mask PNGs),
    my_coco/, my_labelme/; configs/ links to the repository's."""
    masks = mask_fixture(tmp_path / 'my_data')
    write_rows(tmp_path / 'my_data' / 'expressions.jsonl', masks['rows'])
    coco = coco_fixture(tmp_path / 'coco_in', small_dataset)
    (tmp_path / 'my_coco').mkdir()
    os.symlink(coco['instances'], tmp_path / 'my_coco' / 'instances.json')
    os.symlink(coco['image_dir'], tmp_path / 'my_coco' / 'images')
    write_rows(tmp_path / 'my_coco' / 'expressions.jsonl', coco['rows'])
    labelme = labelme_fixture(tmp_path / 'labelme_in')
    os.symlink(labelme['labelme_dir'], tmp_path / 'my_labelme')
    os.symlink(osp.join(ROOT, 'configs'), tmp_path / 'configs')
    for block in blocks(open(DOC).read(), 'python'):
        path = block.splitlines()[0].lstrip('# ').strip()
        os.makedirs(tmp_path / osp.dirname(path), exist_ok=True)
        (tmp_path / path).write_text(block)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(argv, capsys):
    """One command of the page; returns what it printed."""
    assert argv[0] == 'python', argv
    script, args = argv[1], argv[2:]
    args = [a.replace('epoch_12.pth', 'epoch_1.pth') for a in args]
    if script == 'tools/train.py':
        args = _with_options(args, ['train_cfg.max_epochs=1'] + NO_WORKERS)
    elif script == 'tools/test.py':
        args = _with_options(args, NO_WORKERS)
    tool = load_tool(script, 'asda_doc_' + osp.splitext(osp.basename(script))[0])
    if script == 'demo/gradio_demo.py':  # not served: its handler segments an image
        parsed = tool.parse_args(args)
        model = tool.DemoModel(parsed.config, parsed.checkpoint, parsed.device)
        try:
            [shown] = model.run('my_data/images/a.png', 'the upper left block')
            assert shown['mask'].shape == (30, 40) and osp.isfile(shown['mask_file'])
        finally:
            model.close()
        return ''
    status = tool.main(args)  # an exit status, or train.py's runner
    assert not isinstance(status, int) or status == 0, (argv, status)
    return capsys.readouterr().out


@pytest.mark.slow
def test_every_command_of_the_page_runs(user_folder, capsys):
    text = open(DOC).read()
    lines = commands(text)
    scripts = [argv[1] for argv in lines]
    assert scripts == [
        'tools/dataset_converters/masks_to_refer.py', 'tools/dataset_converters/coco_to_refer.py',
        'tools/dataset_converters/labelme_to_refer.py',
        'tools/dataset_converters/check_refer_data.py', 'tools/train.py', 'tools/test.py',
        'demo/image_demo.py', 'demo/batch_demo.py', 'demo/gradio_demo.py']
    printed = {argv[1]: _run(argv, capsys) for argv in lines}
    assert 'wrote data/my_refer: 5 images, 8 annotations' in printed[scripts[0]]
    assert 'all checks passed' in printed['tools/dataset_converters/check_refer_data.py']
    assert osp.isfile('work_dirs/my_refer/epoch_1.pth')
    assert 'Acc@0.5' in printed['tools/test.py'] and 'mBoxIoU' in printed['tools/test.py']
    assert osp.isfile('work_dirs/my_refer/overlay.png')
    assert 'boxes [x, y, w, h]' in printed['demo/image_demo.py']
    assert osp.isfile('work_dirs/my_refer/batch/results.json')
    assert sorted(os.listdir('data')) == ['my_refer', 'my_refer_coco', 'my_refer_labelme']
    # the ViT-B/16 config of the page reads the converted folder too
    vitb = Config.fromfile('my_configs/asda_vitb_my_refer.py')
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(dict(vitb.test_dataloader.dataset, pipeline=[]))
    assert dataset.split == 'test' and len(dataset) >= 1
