"""asda.datasets.converters' parts: expression rows, the split draw; and
asda.utils.atomic.atomic_directory, which the converters write through."""
import os
import subprocess
import sys

import pytest

from asda.datasets.converters import ConversionError, assign_splits, read_rows
from asda.datasets.converters.rows import int_field, list_field, row_ids
from asda.utils.atomic import atomic_directory


def test_assign_splits_by_ratio_seeded():
    keys = list(range(1, 11))
    splits = assign_splits(keys, dict(train=0.8, val=0.1, test=0.1), seed=0)
    assert sorted(splits) == keys
    assert sorted(splits.values()).count('train') == 8
    assert [s for s in splits.values() if s != 'train'].count('val') == 1
    assert assign_splits(keys[::-1], dict(train=0.8, val=0.1, test=0.1), seed=0) == splits
    draws = {tuple(sorted(assign_splits(keys, dict(train=0.8, val=0.1, test=0.1),
                                        seed=s).items())) for s in range(5)}
    assert len(draws) > 1  # the seed matters
    # every split of positive ratio gets an image; a zero ratio none
    few = assign_splits([1, 2, 3], dict(train=0.98, val=0.01, test=0.01, extra=0), seed=1)
    assert sorted(few.values()) == ['test', 'train', 'val']
    with pytest.raises(ConversionError, match='2 image.s. cannot fill the 3 splits'):
        assign_splits([1, 2], dict(train=1, val=1, test=1), seed=0)
    with pytest.raises(ConversionError, match='split ratios must be >= 0'):
        assign_splits([1, 2], dict(train=0), seed=0)


def test_rows_name_their_line(tmp_path):
    csv = tmp_path / 'rows.csv'
    csv.write_text('image,expression,ann_ids\n'
                   'a.jpg,"two\nlines",3;5\n'
                   ',,\n'
                   'b.jpg,the dog,"[7, 8]"\n')
    rows = read_rows(str(csv))
    assert [r.where for r in rows] == [f'{csv} line 2', f'{csv} line 5']
    problems = []
    assert list_field(rows[0], 'ann_ids', problems) == ['3', '5']
    assert list_field(rows[1], 'ann_ids', problems) == [7, 8]
    assert int_field(rows[0], 'missing', problems) is None and problems == []
    jsonl = tmp_path / 'rows.jsonl'
    jsonl.write_text('{"image": "a.jpg", "expression": "x", "id": 1}\n\n'
                     '{"image": "b.jpg", "expression": "y", "id": "1"}\n[1]\n')
    with pytest.raises(ConversionError, match=r'rows.jsonl line 4: expected a JSON object'):
        read_rows(str(jsonl))
    jsonl.write_text('{"image": "a.jpg", "expression": "x", "id": 1}\n\n'
                     '{"image": "b.jpg", "expression": "y", "id": "1"}\n'
                     '{"image": "c.jpg"}\n')
    with pytest.raises(ConversionError, match=r'rows.jsonl line 4: no "expression"'):
        read_rows(str(jsonl))
    rows = read_rows(str(jsonl), required=('image',))
    row_ids(rows, problems)
    assert problems == [f"{jsonl} line 3: duplicate id '1' (also on {jsonl} line 1)"]


def test_atomic_directory(tmp_path):
    out = tmp_path / 'out'
    with atomic_directory(str(out)) as tmp:
        assert os.path.basename(tmp).startswith('.out.tmp-') and os.listdir(tmp_path) == [
            os.path.basename(tmp)]
        (tmp_path / os.path.basename(tmp) / 'a.txt').write_text('new')
    assert os.listdir(tmp_path) == ['out'] and (out / 'a.txt').read_text() == 'new'
    with pytest.raises(FileExistsError, match='exists'):
        with atomic_directory(str(out)):
            pass
    with pytest.raises(RuntimeError):
        with atomic_directory(str(out), overwrite=True) as tmp:
            (tmp_path / os.path.basename(tmp) / 'b.txt').write_text('half')
            raise RuntimeError('killed')
    assert os.listdir(tmp_path) == ['out'] and os.listdir(out) == ['a.txt']
    with atomic_directory(str(out), overwrite=True) as tmp:
        (tmp_path / os.path.basename(tmp) / 'b.txt').write_text('new')
    assert os.listdir(tmp_path) == ['out'] and os.listdir(out) == ['b.txt']


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def test_atomic_directory_tidies_what_killed_writers_left(tmp_path):
    out = tmp_path / 'out'
    dead, live = _dead_pid(), os.getppid()
    (tmp_path / f'.out.tmp-{dead}').mkdir()  # killed while writing
    (tmp_path / f'.out.tmp-{dead}' / 'half.txt').write_text('half')
    (tmp_path / f'.out.tmp-{live}').mkdir()  # another writer, still running
    (tmp_path / f'.out.tmp-{dead}-old').mkdir()  # killed between its two renames:
    (tmp_path / f'.out.tmp-{dead}-old' / 'a.txt').write_text('the previous out')
    (tmp_path / '.other.tmp-1').mkdir()  # not this folder's
    with pytest.raises(FileExistsError):  # the previous out is back, so it exists
        with atomic_directory(str(out)):
            pass
    assert sorted(os.listdir(tmp_path)) == ['.other.tmp-1', f'.out.tmp-{live}', 'out']
    assert (out / 'a.txt').read_text() == 'the previous out'
    (tmp_path / f'.out.tmp-{dead}-old').mkdir()  # the new out was in place
    with atomic_directory(str(out), overwrite=True) as tmp:
        (tmp_path / os.path.basename(tmp) / 'b.txt').write_text('new')
    assert sorted(os.listdir(tmp_path)) == ['.other.tmp-1', f'.out.tmp-{live}', 'out']
    assert os.listdir(out) == ['b.txt']
