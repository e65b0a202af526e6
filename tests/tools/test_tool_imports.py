"""The tools import the package and each other's code as any user would:
none edits ``sys.path`` (shared code lives in ``asda``, e.g. the demo steps
in ``asda.synthetic.demo``)."""
import ast
import os
import os.path as osp

from asda_test_utils import ROOT


def sys_path_edits(source: str):
    """Line numbers where ``source`` touches ``sys.path`` (an attribute
    ``path`` of a name ``sys``)."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr == 'path'
            and isinstance(node.value, ast.Name) and node.value.id == 'sys']


def test_no_tool_edits_sys_path():
    tools = [osp.join(d, f) for d, _, files in os.walk(osp.join(ROOT, 'tools'))
             for f in files if f.endswith('.py')]
    assert len(tools) > 10
    offenders = {}
    for path in tools:
        with open(path, encoding='utf-8') as f:
            lines = sys_path_edits(f.read())
        if lines:
            offenders[osp.relpath(path, ROOT)] = lines
    assert not offenders, offenders


def test_the_check_finds_an_edit():
    assert sys_path_edits('import sys\nsys.path.insert(0, "x")\n') == [2]
    assert sys_path_edits('import os\nos.path.join("a")\n') == []
