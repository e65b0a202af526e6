"""RISInferencer: same masks as tools/test.py, input kinds, errors."""
import glob
import json
import os.path as osp
import pickle
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest
import torch
from asda_test_utils import (
    ROOT,
    TESTS,
    assert_close_to_rounding,
    child_env,
    load_tool,
    logit_magnitude,
    save_random_checkpoint,
    write_config,
)
from PIL import Image

from asda.apis import ExpressionTruncatedWarning, RISInferencer, load_image

HERE = osp.dirname(osp.abspath(__file__))  # capture_predictions


def _val_samples(config):
    """(img_path, text, sent_id) of every expression of the test split."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(config)
    init_default_scope('mmseg')
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.pipeline = []
    dataset = DATASETS.build(dataset_cfg)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return [(i['img_path'], i['text'], i['sent_id']) for i in infos]


def _infer_samples(inferencer, samples):
    return inferencer(images=[s[0] for s in samples],
                      expressions=[s[1] for s in samples])


def _prepare_comparison(dataset, config, checkpoint, work, device, dtype='fp32') -> dict:
    """The inferencer's masks on ``device`` for every expression of the test
    split, and the tools/test.py arguments that must give the same masks
    (:func:`_check_comparison`). A half ``dtype``: the inferencer's, and
    ``--amp`` for the tool (bf16 on a CPU, fp16 on CUDA)."""
    samples = _val_samples(config)
    assert len(samples) >= 3
    inferencer = RISInferencer(config, checkpoint, device=device, dtype=dtype)
    probs = [r['prob'] for r in _infer_samples(inferencer, samples)]
    if dtype != 'fp32':  # the half-precision run really differs from fp32
        plain = RISInferencer(config, checkpoint, device=device)
        assert any(not np.array_equal(p, r['prob']) for p, r in
                   zip(probs, _infer_samples(plain, samples)))
    # The random-init model is not trained: pick the threshold at the median
    # probability so that both classes appear in the masks.
    threshold = float(np.median(np.concatenate([p.ravel() for p in probs])))
    inferencer.model.decode_head.threshold = threshold
    results = _infer_samples(inferencer, samples)

    captured = work / 'captured.pkl'
    cfg = write_config(
        work / 'cfg.py', dataset,
        f'model = dict(decode_head=dict(threshold={threshold!r}))\n'
        'custom_imports = dict(imports=["asda", "capture_predictions"], '
        'allow_failed_imports=False)\n'
        'test_evaluator = [dict(type="RISMetric"), dict('
        f'type="CaptureRISPredictions", out_file={str(captured)!r})]\n')
    show_dir = work / 'show'
    out = work / 'per_expression.json'
    args = [cfg, checkpoint, '--work-dir', str(work / 'work'),
            '--out', str(out), '--show-dir', str(show_dir),
            # a fresh visualizer (mmengine keeps them by name)
            '--cfg-options', f'visualizer.name=ris_show_{id(out)}']
    if dtype != 'fp32':
        args.append('--amp')
    return dict(samples=samples, results=results, threshold=threshold, args=args,
                captured=captured, show_dir=show_dir, out=out, device=device)


def _run_test_tool(*comparisons) -> None:
    """tools/test.py for each prepared comparison. On the CPU in one child
    process with the GPUs hidden (mmengine's Runner takes CUDA whenever it
    is available), the runs one after the other (tests/run_tools.py); on
    CUDA in this process, where mmengine picks CUDA."""
    if comparisons[0]['device'] == 'cpu':
        runs = [[osp.join(ROOT, 'tools', 'test.py'), *c['args']] for c in comparisons]
        proc = subprocess.run(
            [sys.executable, osp.join(TESTS, 'run_tools.py'), json.dumps(runs)],
            env=child_env(cpu_only=True, paths=[HERE]), cwd=ROOT,
            capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
        return
    for comparison in comparisons:
        assert torch.device(comparison['device']).type == 'cuda'
        load_tool('tools/test.py', 'asda_test_tool_apis').main(comparison['args'])


def _check_comparison(samples, results, threshold, args, captured, show_dir, out,
                      device) -> None:
    """The inferencer and tools/test.py: the same masks (bit for bit on the
    CPU), and the tool's overlays and records."""
    with open(captured, 'rb') as f:
        store = pickle.load(f)
    assert sorted(store) == sorted(s[2] for s in samples)

    num_fg = 0
    for (_, text, sent_id), result in zip(samples, results):
        ref = store[sent_id]
        assert ref['text'] == text == result['text']
        assert result['mask'].shape == ref['mask'].shape
        assert result['mask'].dtype == np.bool_
        if device == 'cpu':  # bit for bit
            np.testing.assert_array_equal(result['mask'], ref['mask'])
            np.testing.assert_array_equal(result['prob'], ref['prob'])
        else:  # up to float rounding at the threshold
            np.testing.assert_allclose(result['prob'], ref['prob'], atol=1e-5)
            differ = result['mask'] != ref['mask']
            assert np.all(np.abs(ref['prob'][differ] - threshold) < 1e-5)
        num_fg += int(result['mask'].sum())
    total = sum(r['mask'].size for r in results)
    assert 0.1 * total < num_fg < 0.9 * total  # non-trivial masks

    # --show-dir: one overlay per expression, expression drawn above it
    files = sorted(glob.glob(str(show_dir / '**' / '*.png'), recursive=True))
    assert len(files) == len(samples)
    for (path, _, sent_id) in samples:
        base = osp.splitext(osp.basename(path))[0]
        assert any(f'{base}_sent{sent_id}' in osp.basename(f) for f in files)
    path, _, sent_id = samples[0]
    base = osp.splitext(osp.basename(path))[0]
    drawn = cv2.imread(next(f for f in files
                            if f'{base}_sent{sent_id}_' in osp.basename(f)))
    ori = cv2.imread(path)
    assert drawn.shape[0] > ori.shape[0]  # the expression's banner
    assert drawn.shape[1] == 2 * ori.shape[1]  # ground truth | prediction
    assert len(json.loads(out.read_text())['records']) == len(samples)


@pytest.fixture(scope='module')
def cpu_comparisons(ris_dataset, ris_config, ris_checkpoint, tmp_path_factory):
    """fp32 and bf16 comparisons on the CPU, their tool runs in one child."""
    comparisons = {dtype: _prepare_comparison(
        ris_dataset, ris_config, ris_checkpoint, tmp_path_factory.mktemp(f'tool_{dtype}'),
        'cpu', dtype) for dtype in ('fp32', 'bf16')}
    _run_test_tool(*comparisons.values())
    return comparisons


def test_masks_equal_test_tool(cpu_comparisons):
    _check_comparison(**cpu_comparisons['fp32'])


def test_bf16_masks_equal_test_tool_amp(cpu_comparisons):
    """``tools/test.py --amp`` on a CPU: bf16 autocast, as the inferencer's
    ``dtype='bf16'``."""
    _check_comparison(**cpu_comparisons['bf16'])


@pytest.mark.gpu
@pytest.mark.parametrize('dtype', ['fp32', 'fp16'])
def test_masks_equal_test_tool_on_cuda(ris_dataset, ris_config,
                                       ris_checkpoint, tmp_path, dtype):
    comparison = _prepare_comparison(ris_dataset, ris_config, ris_checkpoint, tmp_path,
                                     'cuda', dtype)
    _run_test_tool(comparison)
    _check_comparison(**comparison)


def test_test_tool_amp_sets_the_test_loop_fp16(ris_config, tmp_path):
    tool = load_tool('tools/test.py', 'asda_test_tool_amp')
    cfg = tool.build_cfg(tool.parse_args([ris_config, 'ckpt.pth', '--amp']))
    assert cfg.test_cfg.type == 'TestLoop' and cfg.test_cfg.fp16 is True
    args = tool.parse_args([ris_config, 'ckpt.pth', '--amp', '--cfg-options',
                            'test_cfg.type=MyLoop'])
    with pytest.raises(ValueError, match="'MyLoop'"):
        tool.build_cfg(args)


@pytest.fixture(scope='module')
def rgb_image(ris_dataset):
    """A non-square RGB uint8 image from the dataset."""
    path = sorted(glob.glob(osp.join(ris_dataset, 'images', '*.jpg')))[0]
    img = cv2.imread(path)[:150, :190, ::-1]
    return np.ascontiguousarray(img)


def _probs(inferencer, image, texts=('the red circle', 'a big square')):
    return [r['prob'] for r in inferencer(image, list(texts))]


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_result_fields(inferencer, rgb_image):
    results = inferencer(rgb_image, 'the red circle')
    assert isinstance(results, list) and len(results) == 1
    r = results[0]
    assert r['mask'].shape == r['prob'].shape == rgb_image.shape[:2]
    assert r['mask'].dtype == np.bool_ and r['prob'].dtype == np.float32
    assert np.array_equal(r['mask'], r['prob'] > inferencer.threshold)
    assert r['text'] == 'the red circle' and r['image_index'] == 0
    assert not r['truncated']
    low, mid = r['afs_layers']
    assert low in inferencer.model.neck.low_layers
    assert mid in inferencer.model.neck.mid_layers


def test_channel_order_path_array_pil(inferencer, rgb_image, tmp_path):
    png = tmp_path / 'img.png'
    cv2.imwrite(str(png), np.ascontiguousarray(rgb_image[..., ::-1]))
    ref = _probs(inferencer, rgb_image)
    _same(_probs(inferencer, str(png)), ref)
    _same(_probs(inferencer, png), ref)  # pathlib
    _same(_probs(inferencer, Image.fromarray(rgb_image)), ref)
    # swapping red and blue changes the result: the order is honoured
    swapped = _probs(inferencer, np.ascontiguousarray(rgb_image[..., ::-1]))
    assert not np.array_equal(swapped[0], ref[0])


def test_grayscale_inputs(inferencer, rgb_image, tmp_path):
    gray = cv2.cvtColor(rgb_image, cv2.COLOR_RGB2GRAY)
    ref = _probs(inferencer, np.repeat(gray[..., None], 3, axis=2))
    png = tmp_path / 'gray.png'
    cv2.imwrite(str(png), gray)
    _same(_probs(inferencer, str(png)), ref)
    _same(_probs(inferencer, gray), ref)
    _same(_probs(inferencer, gray[..., None]), ref)
    assert Image.fromarray(gray).mode == 'L'
    _same(_probs(inferencer, Image.fromarray(gray)), ref)
    binary = Image.fromarray(gray).convert('1')  # bool pixels -> 0 / 255
    _same(_probs(inferencer, binary),
          _probs(inferencer, np.asarray(binary).astype(np.uint8) * 255))


def test_rgba_inputs(inferencer, rgb_image, tmp_path):
    alpha = np.linspace(0, 255, rgb_image.size // 3).reshape(
        rgb_image.shape[:2]).astype(np.uint8)
    rgba = np.concatenate([rgb_image, alpha[..., None]], axis=2)
    ref = _probs(inferencer, rgb_image)
    _same(_probs(inferencer, rgba), ref)
    assert Image.fromarray(rgba).mode == 'RGBA'
    _same(_probs(inferencer, Image.fromarray(rgba)), ref)
    png = tmp_path / 'rgba.png'
    cv2.imwrite(str(png), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED).shape[2] == 4
    _same(_probs(inferencer, str(png)), ref)


def test_16bit_inputs(inferencer, rgb_image, tmp_path):
    ref = _probs(inferencer, rgb_image)
    wide = rgb_image.astype(np.uint16) * 257  # 255 -> 65535
    png = tmp_path / 'rgb16.png'
    cv2.imwrite(str(png), np.ascontiguousarray(wide[..., ::-1]))
    assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    _same(_probs(inferencer, str(png)), ref)
    _same(_probs(inferencer, wide), ref)

    gray = cv2.cvtColor(rgb_image, cv2.COLOR_RGB2GRAY)
    gray_ref = _probs(inferencer, gray)
    gray16 = tmp_path / 'gray16.png'
    cv2.imwrite(str(gray16), gray.astype(np.uint16) * 257)
    _same(_probs(inferencer, str(gray16)), gray_ref)
    with Image.open(gray16) as im:
        assert im.mode.startswith('I')
        _same(_probs(inferencer, im), gray_ref)


def test_load_image_conversions(rgb_image):
    bgr, path = load_image(rgb_image)
    assert path is None and bgr.dtype == np.uint8 and bgr.flags.c_contiguous
    np.testing.assert_array_equal(bgr, rgb_image[..., ::-1])
    mask = np.zeros((4, 5), bool)
    mask[1, 2] = True
    np.testing.assert_array_equal(load_image(mask)[0][..., 0], mask * 255)
    with pytest.raises(TypeError, match='float32'):
        load_image(rgb_image.astype(np.float32))
    with pytest.raises(ValueError, match='shape'):
        load_image(np.zeros((4, 5, 6), np.uint8))
    with pytest.raises(FileNotFoundError, match='no_such.png'):
        load_image('/no/where/no_such.png')
    with pytest.raises(TypeError, match='int'):
        load_image(3)


def test_several_expressions_pairs_and_batches(inferencer, rgb_image):
    small = np.ascontiguousarray(rgb_image[:100, :120])
    texts = ['the red circle', 'the blue square', 'the green triangle']
    one_by_one = [inferencer(rgb_image, t)[0] for t in texts]
    together = inferencer(rgb_image, texts)
    for a, b in zip(one_by_one, together):
        np.testing.assert_array_equal(a['prob'], b['prob'])
    batched = inferencer(rgb_image, texts, batch_size=3)  # other kernels' blocking
    for a, b in zip(one_by_one, batched):
        assert_close_to_rounding(b['prob'], a['prob'], logit_magnitude(a['prob']))

    # pairs of images of different sizes, several expressions for one image
    results = inferencer(images=[rgb_image, small, rgb_image],
                         expressions=[texts[0], texts[1:], texts[2]],
                         batch_size=4)
    assert [r['text'] for r in results] == \
        [texts[0], texts[1], texts[2], texts[2]]
    assert [r['image_index'] for r in results] == [0, 1, 1, 2]
    assert results[1]['prob'].shape == small.shape[:2]
    assert results[0]['prob'].shape == rgb_image.shape[:2]
    for i, j in ((0, 0), (3, 2)):
        assert_close_to_rounding(results[i]['prob'], one_by_one[j]['prob'],
                                 logit_magnitude(one_by_one[j]['prob']))


@pytest.mark.parametrize('expressions, error, match', [
    ('', ValueError, r"expression 0 is empty: ''"),
    ('   ', ValueError, r"expression 0 is empty: '   '"),
    (['the red circle', ''], ValueError, r"expression 1 is empty"),
    (['the red circle', '\x1b[31m'], ValueError, r"expression 1 has no printable word"),
    ('\ufeff\u200b', ValueError, r"expression 0 has no printable word"),
    ([], ValueError, 'no expression'),
    (None, ValueError, 'no expression'),
    ([None], TypeError, r'expression 0 must be a str, got NoneType: None'),
    (['ok', 3], TypeError, r'expression 1 must be a str, got int: 3'),
    ([b'bytes'], TypeError, r"expression 0 must be a str, got bytes"),
    (42, TypeError, r'expressions must be a str or a list of str'),
])
def test_bad_expressions(inferencer, rgb_image, expressions, error, match):
    with pytest.raises(error, match=match):
        inferencer(rgb_image, expressions)


def test_bad_pairs(inferencer, rgb_image):
    with pytest.raises(ValueError, match='2 images but 1'):
        inferencer(images=[rgb_image, rgb_image], expressions=['a'])
    with pytest.raises(ValueError, match='expression 1 is empty'):
        inferencer(images=[rgb_image, rgb_image], expressions=['a', ''])
    with pytest.raises(TypeError, match='expression 1 must be a str'):
        inferencer(images=[rgb_image, rgb_image], expressions=['a', 7])
    with pytest.raises(ValueError, match='either image'):
        inferencer(rgb_image, ['a'], images=[rgb_image])
    with pytest.raises(ValueError, match='batch_size'):
        inferencer(rgb_image, 'a', batch_size=0)


def test_long_expression_truncated_with_warning(inferencer, rgb_image):
    limit = inferencer.context_length
    long_text = ' '.join(['the big red circle left of the blue square'] * 4)
    assert inferencer.num_tokens(long_text) > limit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        results = inferencer(rgb_image, ['the red circle', long_text])
    msgs = [str(w.message) for w in caught
            if 'truncat' in str(w.message)]
    assert len(msgs) == 1, msgs  # once, from the inferencer
    assert 'expression 1' in msgs[0] and long_text in msgs[0]
    assert str(limit) in msgs[0]
    assert [r['truncated'] for r in results] == [False, True]
    warning = next(w for w in caught if 'truncat' in str(w.message))
    assert warning.category is ExpressionTruncatedWarning
    assert osp.basename(warning.filename) == 'test_inferencer.py'

    # same as the expression cut to the context length by the tokenizer
    with pytest.warns(UserWarning, match='truncated to context length'):
        tokens = inferencer.model.backbone.tokenize([long_text])
    assert int(tokens[0, -1]) == inferencer.model.backbone.tokenizer.eot_token_id
    with pytest.warns(ExpressionTruncatedWarning):
        again = inferencer(rgb_image, long_text)[0]
    np.testing.assert_array_equal(again['prob'], results[1]['prob'])


def test_each_expression_is_tokenised_once(inferencer, rgb_image,
                                           monkeypatch):
    """The inferencer tokenises (to count tokens and warn once) and hands the
    ids to the model in the samples' metainfo: the model does not tokenise
    again. (That the masks are those of tools/test.py, where the model
    tokenises, is test_masks_equal_test_tool's.)"""
    from asda.models.backbones.tokenizer import CLIPTokenizer
    bpe = CLIPTokenizer.bpe()
    calls = []

    def counted(text):
        calls.append(text)
        return type(bpe).encode(bpe, text)

    monkeypatch.setattr(bpe, 'encode', counted)
    texts = ['the red circle', 'a blue square on the left']
    results = inferencer(rgb_image, texts, batch_size=2)
    assert calls == texts
    assert [r['truncated'] for r in results] == [False, False]


def test_inferencer_accepts_config_object(ris_config, ris_checkpoint,
                                          rgb_image, inferencer):
    from mmengine.config import Config
    other = RISInferencer(Config.fromfile(ris_config), ris_checkpoint)
    _same(_probs(other, rgb_image), _probs(inferencer, rgb_image))
    state = torch.load(ris_checkpoint, map_location='cpu',
                       weights_only=True)['state_dict']
    for key, value in other.model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_no_target_score_in_results(ris_config, rgb_image, tmp_path, inferencer):
    """A model with the no-target output reports its probability, and an
    expression above the threshold gets an empty mask; others report None."""
    assert inferencer(rgb_image, 'the red circle')[0]['no_target'] is None
    from mmengine.config import Config
    cfg = Config.fromfile(ris_config)
    cfg.model.decode_head.no_target = dict(threshold=0.5)
    path = str(tmp_path / 'cfg_nt.py')
    cfg.dump(path)
    ckpt = tmp_path / 'nt.pth'
    model = save_random_checkpoint(ckpt, path, seed=0)
    last = model.decode_head.no_target.mlp[-1]
    with torch.no_grad():  # no-target logit +4 for every expression
        last.weight.zero_()
        last.bias.fill_(4.0)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    nt = RISInferencer(path, str(ckpt))
    r = nt(rgb_image, ['the red circle', 'a purple hexagon'])
    for result in r:
        assert result['no_target'] == pytest.approx(float(torch.sigmoid(torch.tensor(4.))))
        assert not result['mask'].any()
    nt.model.decode_head.no_target.threshold = 0.99  # now below the threshold
    r = nt(rgb_image, 'the red circle')[0]
    assert r['no_target'] < 0.99
    assert np.array_equal(r['mask'], r['prob'] > nt.threshold)


def _exif_jpeg(path, rgb, orientation):
    """``rgb`` stored as a JPEG whose EXIF says how to turn it for display."""
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    Image.fromarray(rgb).save(path, 'JPEG', quality=95, exif=exif.tobytes())
    return str(path)


@pytest.mark.parametrize('orientation', range(1, 9))
def test_exif_orientation_is_applied(rgb_image, tmp_path, orientation):
    """A path or a PIL image is turned as every viewer shows it (and as
    mmcv.imfrombytes's default 'color' decode does); 5-8 swap H and W."""
    import mmcv
    from PIL import ImageOps
    stored = np.ascontiguousarray(rgb_image[:90, :130])  # not square
    path = _exif_jpeg(tmp_path / 'phone.jpg', stored, orientation)
    with open(path, 'rb') as f:
        displayed = mmcv.imfrombytes(f.read(), flag='color')  # BGR
    height, width = stored.shape[:2]
    assert displayed.shape[:2] == ((width, height) if orientation >= 5 else (height, width))
    np.testing.assert_array_equal(load_image(path)[0], displayed)
    with Image.open(path) as im:
        turned = np.asarray(ImageOps.exif_transpose(im))[..., ::-1]
        np.testing.assert_array_equal(load_image(im)[0], turned)


def test_mask_follows_exif_orientation(inferencer, rgb_image, tmp_path):
    stored = np.ascontiguousarray(rgb_image[:90, :130])
    path = _exif_jpeg(tmp_path / 'phone.jpg', stored, 6)  # turned 90 degrees
    [result] = inferencer(path, 'the red circle')
    assert result['mask'].shape == (130, 90)
    assert inferencer.visualize(path, result).shape[1] == 90  # the overlay too


def test_mask_outputs_by_hand():
    from asda.apis.inference import mask_outputs
    mask = np.zeros((12, 12), bool)
    mask[2:6, 3:9] = True  # 24 pixels, box [3, 2, 6, 4]
    mask[9:11, 9:11] = True  # a 4-pixel stray blob
    prob = np.full((12, 12), 0.2, np.float32)
    prob[2:6, 3:9] = 0.9
    prob[9:11, 9:11] = 0.6
    out = mask_outputs(mask, prob, instances=False)
    assert out['box'] == [3, 2, 6, 4] and out['instances'] is None
    assert out['score'] == pytest.approx((24 * 0.9 + 4 * 0.6) / 28)
    parts = mask_outputs(mask, prob, instances=True, min_instance_area=4)['instances']
    assert [(p['box'], p['area']) for p in parts] == [([3, 2, 6, 4], 24), ([9, 9, 2, 2], 4)]
    assert [p['score'] for p in parts] == pytest.approx([0.9, 0.6])
    np.testing.assert_array_equal(parts[1]['mask'], (prob == np.float32(0.6)))
    assert len(mask_outputs(mask, prob, True, min_instance_area=5)['instances']) == 1
    empty = mask_outputs(np.zeros((4, 4), bool), np.zeros((4, 4), np.float32), True)
    assert empty == dict(box=None, score=0.0, instances=[])


def test_results_carry_box_and_gres_instances(ris_config, rgb_image, tmp_path, inferencer):
    """Every result has the box of its mask's largest component; a GRES
    model's (one with the no-target output) also its components."""
    from mmengine.config import Config

    from asda.utils.boxes import largest_component_box, mask_components
    prob = inferencer(rgb_image, 'the red circle')[0]['prob']
    threshold = float(np.median(prob))  # a random-init model: half the pixels
    cfg = Config.fromfile(ris_config)
    cfg.model.decode_head.threshold = threshold
    cfg.model.decode_head.no_target = dict(threshold=0.999)
    path = str(tmp_path / 'cfg_gres.py')
    cfg.dump(path)
    save_random_checkpoint(tmp_path / 'gres.pth', path, seed=0)
    gres = RISInferencer(path, str(tmp_path / 'gres.pth'), min_instance_area=3)
    result = gres(rgb_image, 'the red circles')[0]
    mask = result['mask']
    assert mask.any() and result['box'] == largest_component_box(mask)
    parts = result['instances']
    expected = mask_components(mask, min_area=3)
    assert len(parts) == len(expected) >= 1
    for part, want in zip(parts, expected):
        np.testing.assert_array_equal(part['mask'], want['mask'])
        assert part['box'] == want['box'] and part['area'] == want['area'] >= 3
        assert part['score'] == pytest.approx(float(result['prob'][part['mask']].mean()))
    assert parts[0]['box'] == result['box']
    # a model without the no-target output lists no instances
    plain = inferencer(rgb_image, 'the red circle')[0]
    assert plain['instances'] is None
    assert plain['box'] == largest_component_box(plain['mask'])
