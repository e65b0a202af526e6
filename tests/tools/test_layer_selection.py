"""tools/analysis_tools/layer_selection.py on the small synthetic dataset."""
import json
import os.path as osp
import pickle

from asda_test_utils import load_tool, save_random_checkpoint, write_config

from asda.apis import RISInferencer


def test_layer_selection_counts_and_histogram(tool_dataset, tmp_path, capsys):
    cfg = write_config(tmp_path / 'cfg.py', tool_dataset)
    ckpt = tmp_path / 'model.pth'
    model = save_random_checkpoint(ckpt, cfg, seed=2)

    tool = load_tool('tools/analysis_tools/layer_selection.py',
                     'asda_layer_selection')
    out_dir = tmp_path / 'layers'
    summary = tool.main([cfg, str(ckpt), '--split', 'testA', '--out-dir',
                         str(out_dir), '--batch-size', '4'])

    with open(osp.join(tool_dataset, 'refcoco', 'refs(unc).p'), 'rb') as f:
        refs = pickle.load(f)
    sents = [(r['ref_id'], s['sent_id'], s['sent']) for r in refs
             if r['split'] == 'testA' for s in r['sentences']]
    assert summary['num_expressions'] == len(sents) > 0
    assert summary['split'] == 'testA'
    low_layers, mid_layers = model.neck.low_layers, model.neck.mid_layers
    assert set(summary['counts']['low']) == {str(v) for v in low_layers}
    assert set(summary['counts']['mid']) == {str(v) for v in mid_layers}
    for group in ('low', 'mid'):
        assert sum(summary['counts'][group].values()) == len(sents)

    # the records are the layers the inferencer reports, per expression
    records = summary['records']
    assert sorted((r['ref_id'], r['sent_id']) for r in records) == \
        sorted((ref_id, sent_id) for ref_id, sent_id, _ in sents)
    inferencer = RISInferencer(cfg, str(ckpt))
    dataset_dir = osp.join(tool_dataset, 'images')
    texts = {sent_id: text for _, sent_id, text in sents}
    for record in records:
        assert record['text'] == texts[record['sent_id']]
    first = records[0]
    ref = next(r for r in refs if r['ref_id'] == first['ref_id'])
    with open(osp.join(tool_dataset, 'refcoco', 'instances.json')) as f:
        images = {im['id']: im for im in json.load(f)['images']}
    img = osp.join(dataset_dir, images[ref['image_id']]['file_name'])
    layers = inferencer(img, first['text'])[0]['afs_layers']
    assert layers == (first['low'], first['mid'])

    printed = capsys.readouterr().out
    assert 'low' in printed and 'mid' in printed and '%' in printed
    png = out_dir / 'layer_selection.png'
    assert png.is_file() and png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    saved = json.loads((out_dir / 'layer_selection.json').read_text())
    assert saved['counts'] == summary['counts']
