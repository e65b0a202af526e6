"""Each shared rule lives in a room of its own, below everything that asks
it: the models and the metrics ask no data module (the text rule and the
no-target rule live in ``asda.utils``), ``asda.utils`` asks no other part
of the package, and the demo scripts take their argument types from
``asda.utils.arg_types``, not from the training engine. Read from the
sources, lazy imports inside functions included."""
import os
import os.path as osp

import pytest
from asda_test_utils import PACKAGE, ROOT, forbidden_imports, imported_modules


def _sources(*parts):
    for part in parts:
        for dirpath, _, filenames in os.walk(osp.join(PACKAGE, part)):
            yield from (osp.join(dirpath, f) for f in filenames if f.endswith('.py'))


@pytest.mark.parametrize('part', ['models', 'evaluation'])
def test_models_and_metrics_import_no_data_module(part):
    paths = list(_sources(part))
    assert len(paths) >= 3
    offenders = forbidden_imports(paths, ['asda.datasets'])
    assert not offenders, offenders


def test_utils_import_no_other_part_of_the_package():
    paths = list(_sources('utils'))
    others = [f'asda.{d}' for d in os.listdir(PACKAGE)
              if osp.isdir(osp.join(PACKAGE, d)) and d not in ('utils', '__pycache__')]
    others += ['asda.compat']
    assert 'asda.models' in others and 'asda.engine' in others
    offenders = forbidden_imports(paths, others)
    assert not offenders, offenders


def test_demo_scripts_import_nothing_from_the_engine():
    demo = osp.join(ROOT, 'demo')
    paths = [osp.join(demo, f) for f in os.listdir(demo) if f.endswith('.py')]
    assert len(paths) >= 3
    offenders = forbidden_imports(paths, ['asda.engine'])
    assert not offenders, offenders
    used = {m for p in paths for m, _ in imported_modules(p)}
    assert 'asda.utils.arg_types' in used


def test_the_check_finds_every_way_of_importing_a_forbidden_part(tmp_path):
    """The inspection itself (:func:`asda_test_utils.forbidden_imports`,
    which tests/synthetic/test_boundary.py asks too): relative, absolute,
    ``from .. import part`` and lazy imports are found, in a module
    asda.engine.probe of a package folder like asda's; a module whose name
    only starts alike is not."""
    package = tmp_path / 'asda'
    (package / 'engine').mkdir(parents=True)
    path = package / 'engine' / 'probe.py'
    path.write_text('from ..synthetic import scenes\n'
                    'from .. import synthetic\n'
                    'import asda.synthetic.refer\n'
                    'def f():\n'
                    '    from asda.datasets.grefcoco import x\n'
                    'from ..utils.labels import y\n'
                    'import asda.datasets_extra\n')
    found = forbidden_imports([str(path)], ['asda.synthetic', 'asda.datasets'], str(package),
                              str(tmp_path))
    probe = osp.join('asda', 'engine', 'probe.py')
    assert found == [f'{probe}:{line} imports asda.{module}' for line, module in [
        (1, 'synthetic'), (1, 'synthetic.scenes'), (2, 'synthetic'), (3, 'synthetic.refer'),
        (5, 'datasets.grefcoco'), (5, 'datasets.grefcoco.x')]]
