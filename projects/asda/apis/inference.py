"""Image + expression -> mask: :class:`RISInferencer`.

::

    from asda.apis import RISInferencer

    inferencer = RISInferencer('configs/asda/asda_tiny_synthetic.py',
                               'work_dirs/demo/epoch_12.pth')
    results = inferencer('demo.jpg', ['the red circle', 'the blue square'])

``RISInferencer()`` with neither a config nor a checkpoint runs the trained
demo model that a checkout ships (:mod:`asda.apis.demo_model`).
    results[0]['mask']        # (H, W) bool at the original image size
    results[0]['prob']        # (H, W) float32, sigmoid of the logits
    results[0]['afs_layers']  # (low, mid) layers AFS picked
    results[0]['box']         # [x, y, w, h] of the mask's largest component

Half precision: ``RISInferencer(..., dtype='fp16')`` (or ``'bf16'``) runs the
model under ``torch.autocast`` on its device; the logits are brought back to
float32 before the post-processing, so ``prob`` stays a float32 probability.

The image goes through the config's test pipeline (``test_dataloader``)
without its loading and annotation steps, then the model's data preprocessor
and ``predict`` (crop the padding, resize to the original size, sigmoid >
``decode_head.threshold``): the same path as ``tools/test.py``, so the masks
are the same.

Images: file paths, numpy arrays (RGB) or PIL images, decoded by
:func:`asda.apis.image_io.load_image` (which says how each kind is read). An
image of more than ``max_pixels`` pixels is refused before it is decoded
(:class:`asda.apis.image_io.ImageTooLargeError`; default
:data:`asda.apis.image_io.DEFAULT_MAX_PIXELS`).

Expressions are tokenised once, here, by the model's tokenizer
(:meth:`asda.models.backbones.CLIPTokenizer.encode`): a truncation is
reported with the expression's index, and the ids travel to the model in
each sample's ``metainfo['tokens']``.
"""
import copy
import os
import warnings
from contextlib import nullcontext
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from ..engine.checkpoint import load_model_checkpoint
from ..engine.cli import merge_cfg_options, read_config
from ..models.backbones.tokenizer import Encoding
from ..utils.boxes import largest_component_box, mask_components
from ..utils.text import check_text
from .demo_model import demo_model
from .image_io import DEFAULT_MAX_PIXELS, ImageInput, load_image

__all__ = [
    'RISInferencer', 'ExpressionTruncatedWarning', 'init_model', 'load_image',
    'check_expressions', 'mask_outputs', 'result_boxes'
]

# Pipeline steps the inferencer leaves out: it decodes the image itself and
# there is no annotation to load.
_LOADERS = ('LoadReferringImage', 'LoadImageFromFile', 'LoadImageFromNDArray')
_ANNOTATION_LOADERS = ('LoadReferringAnnotations', 'LoadAnnotations',
                       'LoadDepthAnnotation')


# ``RISInferencer(dtype=...)``: the autocast dtype (None: float32, no autocast)
INFERENCE_DTYPES = {'fp32': None, 'fp16': torch.float16, 'bf16': torch.bfloat16}


class ExpressionTruncatedWarning(UserWarning):
    """An expression is longer than the text encoder's context length."""


def _type_name(step: dict) -> str:
    """``'mmseg.Resize'`` -> ``'Resize'``; classes -> their name."""
    kind = step.get('type', '')
    if not isinstance(kind, str):
        kind = getattr(kind, '__name__', str(kind))
    return kind.rsplit('.', 1)[-1]


def _as_config(config: Union[str, os.PathLike, Config],
               cfg_options: Optional[dict] = None) -> Config:
    if isinstance(config, (str, os.PathLike)):
        cfg = read_config(os.fspath(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError(f'config must be a file path or a mmengine Config, '
                        f'got {type(config).__name__}')
    return merge_cfg_options(cfg, cfg_options)


def init_model(config: Union[str, os.PathLike, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a referring segmentor from a config, load weights, eval mode.

    Without a checkpoint the model is initialised by its ``init_weights``
    (pretrained CLIP weights when the config names them; random otherwise).
    With one, the weights come from the checkpoint only, loaded strictly
    (:func:`asda.engine.load_model_checkpoint`: a checkpoint of another model
    raises :class:`asda.engine.CheckpointMismatchError` naming the keys; the
    ``module.`` prefix of DDP checkpoints is dropped). The config is kept as
    ``model.cfg``.
    """
    cfg = _as_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS

    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained', None)
    model_cfg['train_cfg'] = None
    if checkpoint is not None and isinstance(model_cfg.get('backbone'), dict):
        # the checkpoint holds the backbone: do not fetch CLIP weights
        model_cfg['backbone'].pop('init_cfg', None)
        if 'pretrained' in model_cfg['backbone']:
            model_cfg['backbone']['pretrained'] = None
    model = MODELS.build(model_cfg)
    if checkpoint is None:
        model.init_weights()
    else:
        load_model_checkpoint(model, os.fspath(checkpoint))
    model.cfg = cfg
    model.to(device)
    model.eval()
    return model


def check_expressions(expressions: Any) -> List[str]:
    """Expressions -> a list of non-empty strings, or a clear error (each
    one checked by :func:`asda.utils.text.check_text`)."""
    if isinstance(expressions, str):
        expressions = [expressions]
    elif isinstance(expressions, (list, tuple)):
        expressions = list(expressions)
    elif isinstance(expressions, np.ndarray):
        expressions = expressions.tolist()
    else:
        raise TypeError(f'expressions must be a str or a list of str, got '
                        f'{type(expressions).__name__}: {expressions!r}')
    if not expressions:
        raise ValueError('no expression given (an empty list)')
    for i, text in enumerate(expressions):
        check_text(text, f'expression {i}')
    return expressions


def result_boxes(result: dict) -> List[List[int]]:
    """The boxes of a result to draw: its ``instances``' boxes for a GRES
    model, else its ``box`` (none for an empty mask)."""
    if result.get('instances') is not None:
        return [part['box'] for part in result['instances']]
    return [] if result.get('box') is None else [result['box']]


def mask_outputs(mask: np.ndarray, prob: np.ndarray, instances: bool,
                 min_instance_area: int = 16) -> dict:
    """What a predicted mask gives besides itself (:mod:`asda.utils.boxes`).

    Args:
        mask (np.ndarray): (H, W) bool prediction.
        prob (np.ndarray): (H, W) foreground probability.
        instances (bool): Also list the components (a GRES model's targets).
        min_instance_area (int): Pixels a component needs to be listed.

    Returns:
        dict: ``box``: ``[x, y, w, h]`` of the mask's largest 8-connected
        component (the box REC scores; None for an empty mask); ``score``:
        the mean probability over the mask (0.0 when it is empty);
        ``instances``: None without ``instances``, else one dict per
        8-connected component of at least ``min_instance_area`` pixels,
        largest first: ``mask`` ((H, W) bool), ``box``, ``area`` and
        ``score`` (the mean probability over it).
    """
    out = dict(box=largest_component_box(mask),
               score=float(prob[mask].mean()) if mask.any() else 0.0,
               instances=None)
    if instances:
        out['instances'] = [dict(part, score=float(prob[part['mask']].mean()))
                            for part in mask_components(mask, min_instance_area)]
    return out


# ----------------------------------------------------------------- inferencer
class RISInferencer:
    """Referring image segmentation: image(s) + expression(s) -> masks.

    Args:
        config (str | Config, optional): Config file or object (its
            ``model`` and ``test_dataloader.dataset.pipeline`` are used).
            None, with no checkpoint either: the committed demo model
            (:func:`asda.apis.demo_model.demo_model`).
        checkpoint (str, optional): Checkpoint to load. None with a config:
            the model's own initialisation (a warning says so).
        device (str | torch.device): Where to run. Defaults to ``'cpu'``.
        batch_size (int): Expressions per forward pass. Only images of the
            same size after the pipeline's resize share a batch (the data
            preprocessor requires it); each expression of an image is one
            batch entry. Batches > 1 give the same masks up to float
            rounding at the threshold; 1 reproduces ``tools/test.py``
            bit for bit.
        cfg_options (dict, optional): Overrides merged into the config.
        dtype (str): ``'fp32'`` (default), or ``'fp16'`` / ``'bf16'``: the
            forward pass runs under ``torch.autocast`` in that dtype (CPU or
            CUDA; bf16 on CUDA needs a GPU that supports it). ``prob`` stays
            float32; masks agree with fp32 up to pixels near the threshold.
        max_pixels (int, optional): Images of more pixels are refused
            before they are decoded
            (:class:`asda.apis.image_io.ImageTooLargeError`). Defaults to
            :data:`asda.apis.image_io.DEFAULT_MAX_PIXELS`; None: no limit.
        min_instance_area (int): Pixels a connected component of a GRES
            model's mask needs to be one of its ``instances``. Defaults to 16.

    Call ``inferencer(image, expressions)``: one image and one expression
    (str) or several (list of str); or ``inferencer(images=[...],
    expressions=[...])`` with one entry (a str or a list of str) per image.
    Returns a list with one dict per expression, in input order:

    * ``'mask'``: (H, W) bool at the image's original size.
    * ``'prob'``: (H, W) float32 foreground probability (sigmoid of the
      logits, resized to the original size); ``mask == prob > threshold``,
      except for an expression predicted "no target" (empty mask).
    * ``'no_target'``: the probability that the expression refers to
      nothing in the image, for a model with the no-target output
      (gRefCOCO configs; above the head's ``no_target.threshold`` the mask
      is empty); None otherwise.
    * ``'afs_layers'``: (low, mid) layer numbers AFS chose (None when the
      neck selects no layer).
    * ``'box'``: ``[x, y, w, h]`` of the mask's largest 8-connected
      component, the box :class:`asda.RISMetric` scores as REC (None for an
      empty mask); ``'score'``: the mean probability over the mask (0.0 for
      an empty one).
    * ``'instances'``: for a model with the no-target output (a GRES model,
      whose expression may name several objects), one dict per 8-connected
      component of the mask with at least ``min_instance_area`` pixels,
      largest first: ``mask``, ``box``, ``area``, ``score``
      (:func:`mask_outputs`); None for other models.
    * ``'text'``: the expression as given; ``'image_index'``: the index of
      its image; ``'truncated'``: whether it exceeded the context length
      (then cut, keeping the end-of-text token, with an
      :class:`ExpressionTruncatedWarning`).
    """

    def __init__(self,
                 config: Union[str, os.PathLike, Config, None] = None,
                 checkpoint: Optional[str] = None,
                 device: Union[str, torch.device] = 'cpu',
                 batch_size: int = 1,
                 cfg_options: Optional[dict] = None,
                 dtype: str = 'fp32',
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 min_instance_area: int = 16):
        if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(
                max_pixels, int) or max_pixels < 1):
            raise ValueError(f'max_pixels must be a positive int or None, got '
                             f'{max_pixels!r}')
        self.max_pixels = max_pixels
        if isinstance(min_instance_area, bool) or \
                not isinstance(min_instance_area, int) or min_instance_area < 1:
            raise ValueError(f'min_instance_area must be a positive int, got '
                             f'{min_instance_area!r}')
        self.min_instance_area = min_instance_area
        self.device = torch.device(device)
        self.dtype = self._check_dtype(dtype, self.device)
        if config is None:
            if checkpoint is not None:
                raise ValueError(f'checkpoint {checkpoint} needs its config')
            config, checkpoint = demo_model()
        if checkpoint is None:
            warnings.warn('RISInferencer without a checkpoint: the model '
                          'has its initial (untrained) weights', stacklevel=2)
        self.model = init_model(config, checkpoint, device, cfg_options)
        self.cfg = self.model.cfg
        self.batch_size = self._check_batch_size(batch_size)
        self.pipeline = Compose(self._pipeline_cfg(self.cfg))
        self._visualizer = None

    # --------------------------------------------------------------- set-up
    @staticmethod
    def _check_batch_size(batch_size) -> int:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) \
                or batch_size < 1:
            raise ValueError(f'batch_size must be a positive int, got '
                             f'{batch_size!r}')
        return batch_size

    @staticmethod
    def _check_dtype(dtype, device: torch.device) -> str:
        if dtype not in INFERENCE_DTYPES:
            raise ValueError(f'dtype must be one of {sorted(INFERENCE_DTYPES)}'
                             f', got {dtype!r}')
        if dtype == 'bf16' and device.type == 'cuda' and \
                not torch.cuda.is_bf16_supported():
            raise ValueError(f"dtype='bf16': the GPU {device} does not "
                             f"support bfloat16; use dtype='fp16'")
        return dtype

    def _autocast(self):
        """Autocast in ``self.dtype`` on the model's device (or nothing)."""
        cast = INFERENCE_DTYPES[self.dtype]
        if cast is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=cast)

    @staticmethod
    def _pipeline_cfg(cfg: Config) -> List[dict]:
        """The test pipeline without its image and annotation loading."""
        pipeline = None
        for loader in ('test_dataloader', 'val_dataloader'):
            dataset = (cfg.get(loader) or {}).get('dataset') or {}
            pipeline = dataset.get('pipeline')
            if pipeline is not None:
                break
        if pipeline is None:
            pipeline = cfg.get('test_pipeline')
        if pipeline is None:
            raise ValueError('the config has no test pipeline '
                             '(test_dataloader.dataset.pipeline)')
        steps = [copy.deepcopy(dict(step)) for step in pipeline
                 if _type_name(step) not in _LOADERS + _ANNOTATION_LOADERS]
        if not steps or 'Pack' not in _type_name(steps[-1]):
            raise ValueError(f'the test pipeline must end with a packing '
                             f'step, got {[_type_name(s) for s in steps]}')
        return steps

    @property
    def threshold(self) -> float:
        return float(getattr(self.model.decode_head, 'threshold', 0.5))

    @property
    def context_length(self) -> Optional[int]:
        tokenizer = getattr(self.model.backbone, 'tokenizer', None)
        return getattr(tokenizer, 'context_length', None)

    @property
    def tokenizer(self):
        """The model's :class:`asda.models.backbones.CLIPTokenizer`
        (``model.backbone.tokenizer``), or None (a model that tokenises in
        its own way)."""
        tokenizer = getattr(self.model.backbone, 'tokenizer', None)
        return tokenizer if hasattr(tokenizer, 'encode') else None

    def num_tokens(self, text: str) -> Optional[int]:
        """Tokens of ``text`` with the start/end-of-text tokens."""
        tokenizer = self.tokenizer
        return None if tokenizer is None else tokenizer.encode(text).num_tokens

    def _encode(self, pairs: List[Tuple[int, str]]
                ) -> List[Optional[Encoding]]:
        """Each expression tokenised, once: its ids go to the model in the
        sample's ``metainfo['tokens']`` (the model does not tokenise again),
        and a truncation is reported here, with the expression's index. All
        None when the model has no :attr:`tokenizer` (it tokenises then)."""
        tokenizer = self.tokenizer
        if tokenizer is None:
            return [None] * len(pairs)
        encodings = []
        for i, (_, text) in enumerate(pairs):
            encoding = tokenizer.encode(text, f'expression {i}')
            if encoding.truncated:
                warnings.warn(
                    f'expression {i} has {encoding.num_tokens} tokens (with '
                    f'start/end of text), more than the context length '
                    f'{tokenizer.context_length}: truncated (the end-of-text '
                    f'token is kept): {text!r}',
                    ExpressionTruncatedWarning, stacklevel=3)
            encodings.append(encoding)
        return encodings

    # ------------------------------------------------------------- prepare
    def _prepare(self, image: ImageInput, index: int) -> dict:
        img, path = load_image(image, name=f'image {index}',
                               max_pixels=self.max_pixels)
        results = dict(img=img, img_shape=img.shape[:2],
                       ori_shape=img.shape[:2])
        if path is not None:
            results['img_path'] = path
        return self.pipeline(results)

    def _normalise_call(self, image, expressions, images
                        ) -> Tuple[list, List[Tuple[int, str]]]:
        if images is not None:
            if image is not None:
                raise ValueError('pass either image (one) or images (a list), '
                                 'not both')
            if isinstance(images, (str, os.PathLike, np.ndarray)) or \
                    not isinstance(images, Sequence):
                raise TypeError('images must be a list of images (paths, '
                                'arrays or PIL images)')
            images = list(images)
            if expressions is None or isinstance(expressions, str) or \
                    not isinstance(expressions, Sequence):
                raise TypeError('with images=[...], expressions must be a '
                                'list with one entry (a str or a list of '
                                'str) per image')
            if len(images) != len(expressions):
                raise ValueError(f'{len(images)} images but '
                                 f'{len(expressions)} expression entries')
            pairs, flat = [], []
            for i, entry in enumerate(expressions):
                texts = [entry] if isinstance(entry, str) else entry
                if isinstance(texts, (list, tuple)) and not texts:
                    raise ValueError(f'no expression for image {i}')
                if not isinstance(texts, (list, tuple)):
                    texts = [texts]  # check_expressions names the bad value
                pairs += [(i, t) for t in texts]
                flat += list(texts)
            if not images:
                raise ValueError('no image given (an empty list)')
        else:
            if image is None:
                raise ValueError('no image given')
            if expressions is None:
                raise ValueError('no expression given')
            images = [image]
            flat = expressions
            pairs = None
        texts = check_expressions(flat)
        if pairs is None:
            pairs = [(0, t) for t in texts]
        return images, pairs

    # ----------------------------------------------------------------- call
    def __call__(self,
                 image: Optional[ImageInput] = None,
                 expressions: Union[str, Sequence, None] = None,
                 *,
                 images: Optional[Sequence[ImageInput]] = None,
                 batch_size: Optional[int] = None) -> List[Dict[str, Any]]:
        """Segment the object each expression refers to; see the class."""
        batch_size = self.batch_size if batch_size is None else \
            self._check_batch_size(batch_size)
        images, pairs = self._normalise_call(image, expressions, images)
        encodings = self._encode(pairs)

        # Each image goes through the pipeline once; its expressions share
        # the packed tensor. Entries of the same size batch together.
        packed = {}
        for img_idx in sorted({p[0] for p in pairs}):
            packed[img_idx] = self._prepare(images[img_idx], img_idx)
        groups: Dict[tuple, List[int]] = {}
        for k, (img_idx, _) in enumerate(pairs):
            shape = tuple(packed[img_idx]['inputs'].shape)
            groups.setdefault(shape, []).append(k)

        outputs: List[Optional[dict]] = [None] * len(pairs)
        for order in groups.values():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                batch = []
                for k in chunk:
                    img_idx, text = pairs[k]
                    item = packed[img_idx]
                    sample = item['data_samples'].clone()
                    sample.set_metainfo(dict(text=text))
                    if encodings[k] is not None:
                        sample.set_metainfo(dict(tokens=encodings[k].ids))
                    batch.append(dict(inputs=item['inputs'],
                                      data_samples=sample))
                for k, result in zip(chunk, self._forward(batch)):
                    img_idx, text = pairs[k]
                    result.update(text=text, image_index=img_idx,
                                  truncated=encodings[k] is not None
                                  and encodings[k].truncated)
                    outputs[k] = result
        return outputs

    def _forward(self, batch: List[dict]) -> List[dict]:
        data = pseudo_collate(batch)
        with torch.no_grad(), self._autocast():
            samples = self.model.test_step(data)
        results = []
        for sample in samples:
            logits = sample.seg_logits.data.float()
            if logits.shape[0] == 1:
                prob = logits[0]  # postprocess_result applied the sigmoid
            else:
                prob = logits.softmax(dim=0)[1]
            layers = sample.metainfo.get('afs_layers')
            no_target = sample.get('no_target_score')
            mask = sample.pred_sem_seg.data[0].cpu().numpy().astype(bool)
            prob = prob.cpu().numpy().astype(np.float32)
            results.append(dict(
                mask=mask, prob=prob,
                afs_layers=tuple(int(v) for v in layers)
                if layers is not None else None,
                no_target=float(no_target) if no_target is not None else None,
                **mask_outputs(mask, prob, no_target is not None,
                               self.min_instance_area)))
        return results

    # ----------------------------------------------------------- visualise
    @property
    def visualizer(self):
        if self._visualizer is None:
            from ..visualization import RISLocalVisualizer
            self._visualizer = RISLocalVisualizer(
                name=f'ris_inferencer_{id(self)}')
        return self._visualizer

    def visualize(self, image: ImageInput, result: dict,
                  out_file: Optional[str] = None, boxes: bool = False) -> np.ndarray:
        """Overlay of ``result`` (one returned dict) on ``image``, with the
        expression written above it; with ``boxes``, the box of each of its
        ``instances`` (GRES models), else its ``box``. Returns RGB; writes
        ``out_file``."""
        img, _ = load_image(image, max_pixels=self.max_pixels)
        drawn = self.visualizer.draw_referring(
            img[..., ::-1], text=result.get('text'), pred_mask=result['mask'],
            pred_boxes=result_boxes(result) if boxes else None)
        if out_file is not None:
            import mmcv
            mmcv.imwrite(np.ascontiguousarray(drawn[..., ::-1]), out_file)
        return drawn
