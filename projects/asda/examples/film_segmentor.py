"""A user's own referring segmentor, to show that ASDA's data side
(``RefCOCODataset``, the referring transforms, ``RISMetric``) works under any
segmentor that reads ``metainfo['text']``.

:class:`FiLMReferringSegmentor`: a small convolutional image encoder whose
features are scaled and shifted (FiLM) by a bag-of-words embedding of the
expression's CLIP BPE tokens, decoded by a stock mmseg head (``FCNHead``, one
output channel, sigmoid). Shape letters: B batch, C channels, H x W feature
grid, L context length.
"""
from typing import List

import torch
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from torch import nn

from asda.models.backbones.clip_backbone import CLIPTokenizer

__all__ = ['FiLMReferringSegmentor']


@MODELS.register_module()
class FiLMReferringSegmentor(BaseSegmentor):
    """Image encoder + expression FiLM + a stock decode head.

    Args:
        decode_head (dict): A stock mmseg head on one (B, C, H, W) map
            (``in_channels=channels``, ``out_channels=1``).
        channels (int): Encoder width C.
        context_length (int): Tokens per expression L.
        data_preprocessor (dict, optional): mmseg's ``SegDataPreProcessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, decode_head: dict, channels: int = 64,
                 context_length: int = 17, data_preprocessor=None,
                 train_cfg=None, test_cfg=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        layers, width = [], 3
        for _ in range(3):  # stride 8
            layers += [nn.Conv2d(width, channels, 3, stride=2, padding=1),
                       nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
            width = channels
        self.encoder = nn.Sequential(*layers)
        self.tokenizer = CLIPTokenizer(context_length)
        self.words = nn.EmbeddingBag(49408, 2 * channels, mode='mean')
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels
        self.test_cfg = test_cfg or dict(mode='whole')

    def _texts(self, samples) -> List[str]:
        return [(s if isinstance(s, dict) else s.metainfo)['text'] for s in samples]

    def extract_feat(self, inputs: torch.Tensor, samples) -> List[torch.Tensor]:
        feat = self.encoder(inputs)  # (B, C, H, W)
        tokens = self.tokenizer(self._texts(samples)).to(inputs.device)  # (B, L)
        mask = tokens > 0
        flat = tokens[mask]  # the non-padding tokens, concatenated
        offsets = torch.cat([mask.new_zeros(1, dtype=torch.long),
                             mask.sum(1).cumsum(0)[:-1]])
        gamma, beta = self.words(flat, offsets).chunk(2, dim=1)  # (B, C) each
        return [feat * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]]

    def encode_decode(self, inputs, batch_img_metas):
        return self.decode_head.predict(self.extract_feat(inputs, batch_img_metas),
                                        batch_img_metas, self.test_cfg)

    def loss(self, inputs, data_samples) -> dict:
        return self.decode_head.loss(self.extract_feat(inputs, data_samples),
                                     data_samples, None)

    def predict(self, inputs, data_samples=None):
        metas = []
        for sample in data_samples:
            meta = dict(sample.metainfo)
            meta.setdefault('pad_shape', tuple(inputs.shape[-2:]))
            meta.setdefault('img_shape', tuple(inputs.shape[-2:]))
            metas.append(meta)
        logits = self.encode_decode(inputs, metas)
        return self.postprocess_result(logits, data_samples)

    def _forward(self, inputs, data_samples=None):
        return self.decode_head.forward(self.extract_feat(inputs, data_samples))
