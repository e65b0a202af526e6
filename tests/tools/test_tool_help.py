"""Every tool's command line is documented and starts quietly: each script
under tools/ and demo/ builds its parser in ``build_parser()``, every
argument (of every sub-command) has a help string, and ``--help`` prints no
warning."""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

from asda_test_utils import ROOT, child_env, load_tool


def tool_scripts():
    """The Python tools: every ``.py`` under tools/ and demo/ (relative
    paths)."""
    found = []
    for top in ('tools', 'demo'):
        for dirpath, dirnames, filenames in os.walk(osp.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d != '__pycache__']
            found += [osp.relpath(osp.join(dirpath, f), ROOT)
                      for f in filenames if f.endswith('.py')]
    return sorted(found)


def undocumented(parser: argparse.ArgumentParser, prefix: str = ''):
    """The arguments of ``parser`` and its sub-commands without a help
    string (argparse's own ``-h`` aside); a hidden one (``SUPPRESS``)
    counts as undocumented."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from undocumented(sub, f'{prefix}{name} ')
            continue
        if not action.help or action.help == argparse.SUPPRESS:
            yield prefix + ('/'.join(action.option_strings) or action.dest)


def test_every_argument_of_every_tool_has_help():
    scripts = tool_scripts()
    assert {'tools/train.py', 'tools/test.py', 'demo/image_demo.py'} <= set(scripts)
    missing, no_parser = {}, []
    for number, script in enumerate(scripts):
        tool = load_tool(script, f'asda_help_{number}')
        if not callable(getattr(tool, 'build_parser', None)):
            no_parser.append(script)
            continue
        parser = tool.build_parser()
        assert isinstance(parser, argparse.ArgumentParser), script
        names = list(undocumented(parser))
        if names:
            missing[script] = names
    assert not no_parser, f'tools without build_parser(): {no_parser}'
    assert not missing, f'arguments without help: {missing}'


def test_the_walk_finds_arguments_without_help():
    parser = argparse.ArgumentParser()
    parser.add_argument('config', help='a config')
    parser.add_argument('--seed', type=int)
    parser.add_argument('--quiet', action='store_true', help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest='command')
    record = sub.add_parser('record', help='a sub-command')
    record.add_argument('name')
    assert list(undocumented(parser)) == ['--seed', '--quiet', 'record name']


# Runs ``--help`` of each script as ``python SCRIPT --help`` would, one after
# the other in one interpreter (one start instead of one per tool); prints
# the scripts run and whether mmcv's transformer bricks were imported.
_HELP_ALL = r'''
import json, runpy, sys
scripts = json.loads(sys.argv[1])
for script in scripts:
    sys.argv = [script, '--help']
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as exit:
        if exit.code not in (0, None):
            raise
    else:
        raise SystemExit(f'{script} --help did not exit')
print(json.dumps(dict(scripts=scripts,
                      bricks='mmcv.cnn.bricks.transformer' in sys.modules)))
'''


def test_help_of_every_tool_prints_no_warning():
    scripts = tool_scripts()
    run = subprocess.run([sys.executable, '-c', _HELP_ALL, json.dumps(scripts)],
                         cwd=ROOT, env=child_env(cpu_only=True),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert 'Warning' not in run.stderr, run.stderr
    assert run.stdout.count('usage: ') == len(scripts)
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary['scripts'] == scripts
    # the modules that warn with mmcv-lite were imported: the check saw them
    assert summary['bricks']
