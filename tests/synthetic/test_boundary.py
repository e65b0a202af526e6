"""The synthetic world is no part of the plugin: no module of ``asda``
outside ``asda.synthetic`` imports it (read from the sources, lazy imports
inside functions included: :func:`asda_test_utils.forbidden_imports`, whose
own test is in tests/test_package_layers.py), and ``import asda`` leaves it
out."""
import os
import os.path as osp
import subprocess
import sys

from asda_test_utils import PACKAGE, child_env, forbidden_imports

# The plugin's parts the rule names; every other part of asda but synthetic/
# is checked too.
PLUGIN = ('models', 'datasets', 'evaluation', 'engine', 'apis')


def plugin_sources():
    for dirpath, dirnames, filenames in os.walk(PACKAGE):
        dirnames[:] = [d for d in dirnames
                       if d not in ('synthetic', '__pycache__')]
        yield from (osp.join(dirpath, f) for f in filenames if f.endswith('.py'))


def test_no_plugin_module_imports_the_synthetic_world():
    sources = list(plugin_sources())
    parts = {osp.relpath(p, PACKAGE).split(os.sep)[0] for p in sources}
    assert set(PLUGIN) <= parts  # the walk reaches every part the rule names
    offenders = forbidden_imports(sources, ['asda.synthetic'])
    assert not offenders, offenders


def test_import_asda_leaves_the_synthetic_world_out():
    code = ('import sys, asda\n'
            'print(sorted(m for m in sys.modules if m == "asda.synthetic" '
            'or m.startswith("asda.synthetic.")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, env=child_env(), check=True).stdout
    assert out.strip().splitlines()[-1] == '[]'
