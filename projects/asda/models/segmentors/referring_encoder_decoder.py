"""mmseg ``EncoderDecoder`` that carries the referring expression along.

Every data sample's ``metainfo['text']`` (one expression per image) travels
to the backbone, which tokenises it, in the three modes of ``forward``; when
every sample also carries its token ids ``metainfo['tokens']`` ((L,) long,
from the backbone's tokenizer: the inferencer tokenises each expression
once), those go to the backbone instead:

* ``'loss'``: ``extract_feat(inputs, data_samples)`` -> ``decode_head.loss``.
* ``'predict'``: logits -> mmseg's ``postprocess_result`` (crop the padding,
  un-flip, resize to ``ori_shape``, sigmoid > threshold); the layers AFS
  picked are written into each returned sample's metainfo as
  ``'afs_layers'`` = (low, mid).
  With a head whose no-target output is on (gRefCOCO), each sample also
  gets ``no_target_score`` (0-dim tensor, the probability), and a sample
  whose score exceeds the head's threshold gets an empty ``pred_sem_seg``.
* ``'tensor'``: the head's logits (B, 1, h, w).

:meth:`ReferringEncoderDecoder.forward_tokens` runs on pre-tokenised text
(a (B, L) id tensor) and returns the logits, for tracing / ONNX export.
Every size derives from the input: any side divisible by the patch size.

``init_weights`` writes mmengine's per-parameter initialisation record to
the log file, as mmengine does; with no log file (the inferencer, a probe,
a notebook) it goes to the logger at DEBUG level instead of one INFO line
per parameter on the console.
"""
import logging
from typing import List, Optional, Sequence, Union

import torch
from mmengine.dist import master_only
from mmengine.logging import MMLogger
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList

__all__ = ['ReferringEncoderDecoder']


def _texts_of(samples: Sequence) -> Union[List[str], torch.Tensor]:
    """Expressions from data samples or their metainfo dicts: their token
    ids (B, L) when every one carries ``'tokens'``, else the strings."""
    metas = [s if isinstance(s, dict) else s.metainfo for s in samples]
    if metas and all('tokens' in meta for meta in metas):
        return torch.stack([torch.as_tensor(meta['tokens']) for meta in metas])
    texts = []
    for meta in metas:
        if 'text' not in meta:
            raise KeyError("a referring data sample needs metainfo['text'] "
                           '(the expression)')
        texts.append(meta['text'])
    return texts


@MODELS.register_module()
class ReferringEncoderDecoder(EncoderDecoder):
    """Referring segmentor: CLIP backbone (image + text), neck, head.

    Arguments are :class:`mmseg.models.EncoderDecoder`'s; the backbone must
    take ``(inputs, texts)`` (:class:`asda.CLIPBackbone`).
    """

    @master_only
    def _dump_init_info(self):
        """mmengine's initialisation record: to the log file when there is
        one, else at DEBUG level (see the module docstring)."""
        logger = MMLogger.get_current_instance()
        if any(isinstance(h, logging.FileHandler) for h in logger.handlers):
            super()._dump_init_info()
            return
        for name, param in self.named_parameters():
            logger.debug(f'{name} - {tuple(param.shape)}: '
                         f"{self._params_init_info[param]['init_info']}")

    def extract_feat(self,
                     inputs: torch.Tensor,
                     data_samples: Optional[Sequence] = None,
                     texts: Union[Sequence[str], torch.Tensor, None] = None):
        """Backbone (+ neck) features of images and their expressions.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            data_samples (list, optional): Data samples or metainfo dicts
                holding ``'text'`` (and maybe ``'tokens'``, see the module
                docstring); used when ``texts`` is None.
            texts (list[str] | Tensor, optional): Expressions or token ids.
        """
        if texts is None:
            if data_samples is None:
                raise ValueError('referring segmentation needs expressions: '
                                 'pass data samples with metainfo["text"] '
                                 'or texts')
            texts = _texts_of(data_samples)
        x = self.backbone(inputs, texts)
        if self.with_neck:
            x = self.neck(x)
        return x

    def encode_decode(self, inputs: torch.Tensor,
                      batch_img_metas: List[dict]) -> torch.Tensor:
        """Logits resized to the (padded) input size; texts from metas."""
        x = self.extract_feat(inputs, batch_img_metas)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> dict:
        x = self.extract_feat(inputs, data_samples)
        losses = dict()
        losses.update(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return losses

    def predict(self, inputs: torch.Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Masks at each sample's ``ori_shape`` (mmseg post-processing).

        Adds ``'afs_layers'`` (chosen low and mid layer) to the metainfo of
        every returned sample when the neck reports them.
        """
        if data_samples is None:
            raise ValueError('referring segmentation needs data samples with '
                             'metainfo["text"]')
        batch_img_metas = []
        for sample in data_samples:
            meta = dict(sample.metainfo)
            # predict_by_feat resizes to pad_shape (else img_shape): the
            # padded batch is the input itself.
            meta.setdefault('pad_shape', tuple(inputs.shape[-2:]))
            meta.setdefault('img_shape', tuple(inputs.shape[-2:]))
            batch_img_metas.append(meta)
        afs_layers, no_target = None, self._no_target_classifier()
        whole = self.test_cfg.get('mode', 'whole') == 'whole'
        if no_target is not None and not whole:
            raise ValueError('the no-target output needs test_cfg mode '
                             f"'whole', got {self.test_cfg.get('mode')!r}")
        if whole:
            x = self.extract_feat(inputs, batch_img_metas)
            if isinstance(x, dict):
                afs_layers = x.get('afs_layers')
            if no_target is not None:
                seg_logits, nt_probs = self.decode_head.predict_with_no_target(
                    x, batch_img_metas, self.test_cfg)
            else:
                seg_logits = self.decode_head.predict(x, batch_img_metas,
                                                      self.test_cfg)
        else:
            seg_logits = self.inference(inputs, batch_img_metas)
        # float32 masks and probabilities also under autocast
        results = self.postprocess_result(seg_logits.float(), data_samples)
        if afs_layers is not None:
            for sample, layers in zip(results, afs_layers.tolist()):
                sample.set_metainfo(dict(afs_layers=tuple(layers)))
        if no_target is not None:
            for sample, prob in zip(results, nt_probs):
                sample.set_data(dict(no_target_score=prob))
                if prob > no_target.threshold:  # predicted "no target"
                    sample.pred_sem_seg.data.zero_()
        return results

    def _no_target_classifier(self):
        """The head's :class:`asda.models.decode_heads.no_target.
        NoTargetClassifier`, or None (RefCOCO models, other heads)."""
        return getattr(self.decode_head, 'no_target', None)

    def _forward(self, inputs: torch.Tensor,
                 data_samples: OptSampleList = None) -> torch.Tensor:
        x = self.extract_feat(inputs, data_samples)
        return self.decode_head.forward(x)

    def forward_tokens(self, inputs: torch.Tensor,
                       tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1, h, w) from normalised images and token ids (B, L).

        Tokenise with ``self.backbone.tokenize(texts)``. Meant for tracing
        and ONNX export (tensors in, a tensor out).
        """
        x = self.extract_feat(inputs, texts=tokens)
        return self.decode_head.forward(x)
