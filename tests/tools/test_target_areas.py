"""tools/analysis_tools/target_areas.py: the share of the image each
expression's target covers, per split, on refs and grefs the test writes."""
import json
import pickle

import pytest
from asda_test_utils import load_tool

tool = load_tool('tools/analysis_tools/target_areas.py', 'asda_target_areas')


def _instances(tmp_path):
    coco = dict(
        images=[dict(id=1, width=100, height=50, file_name='a.jpg'),
                dict(id=2, width=10, height=10, file_name='b.jpg')],
        annotations=[dict(id=11, image_id=1, area=500.0),   # 10% of image 1
                     dict(id=12, image_id=1, area=1000.0),  # 20%
                     dict(id=21, image_id=2, area=150.0)],  # over the image: 100%
        categories=[])
    path = tmp_path / 'instances.json'
    path.write_text(json.dumps(coco))
    return str(path)


def _ref(ref_id, ann_id, split, n_sents=1):
    return dict(ref_id=ref_id, ann_id=ann_id, image_id=1, split=split,
                sentences=[dict(sent_id=ref_id * 10 + k, sent='x')
                           for k in range(n_sents)])


def test_shares_per_expression_and_split(tmp_path, capsys):
    refs = [_ref(1, 11, 'val', n_sents=3), _ref(2, 12, 'val'),
            _ref(3, 21, 'train')]
    refs_file = tmp_path / 'refs(unc).p'
    refs_file.write_bytes(pickle.dumps(refs))
    out = tmp_path / 'areas.json'
    summary = tool.main([str(refs_file), _instances(tmp_path), '--out', str(out)])
    # val: three expressions at 10%, one at 20%
    assert summary['val']['expressions'] == 4
    assert summary['val']['p10'] == pytest.approx(10.0)
    assert summary['val']['p50'] == pytest.approx(10.0)
    assert summary['val']['p90'] == pytest.approx(17.0)  # numpy's linear rule
    assert summary['train'] == dict(expressions=1, no_target=0, p10=100.0,
                                    p50=100.0, p90=100.0)
    assert json.loads(out.read_text()) == summary
    assert 'val' in capsys.readouterr().out


def test_gref_targets_are_summed_and_no_target_counted_apart(tmp_path):
    grefs = [_ref(1, [11, 12], 'val'), _ref(2, [-1], 'val', n_sents=2),
             _ref(3, [11], 'val')]
    path = tmp_path / 'grefs(unc).json'
    path.write_text(json.dumps(grefs))
    summary = tool.main([str(path), _instances(tmp_path)])
    assert summary['val']['expressions'] == 2 and summary['val']['no_target'] == 2
    assert summary['val']['p90'] == pytest.approx(28.0)  # 10% and 30%


def test_an_annotation_missing_from_the_instances_is_named(tmp_path):
    path = tmp_path / 'refs(unc).p'
    path.write_bytes(pickle.dumps([_ref(7, 99, 'val')]))
    with pytest.raises(ValueError, match=r'ref_id=7: annotations \[99\]'):
        tool.main([str(path), _instances(tmp_path)])
