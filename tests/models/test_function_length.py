"""No function of asda.models is longer than 60 lines, unless it implements
a paper equation and its docstring says which (``Eq. N``)."""
import ast
import os.path as osp
from glob import glob

MODELS = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'projects',
                  'asda', 'models')
MAX_LINES = 60


def test_functions_are_short():
    long = []
    for path in sorted(glob(osp.join(MODELS, '**', '*.py'), recursive=True)):
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_LINES and 'Eq.' not in (ast.get_docstring(node) or ''):
                long.append(f'{osp.relpath(path, MODELS)}:{node.lineno} '
                            f'{node.name} ({lines} lines)')
    assert not long, long
