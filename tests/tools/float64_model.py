"""Test-only model: the referring segmentor in float64.

Imported through ``custom_imports`` (``tests/tools`` is on PYTHONPATH for the
child processes). A gradient is a sum over every pixel of terms of both
signs; in float32 its rounding depends on how the samples are batched, and
one SGD step of the tiny model on 2 + 2 samples differs from one on the 4
together by up to ~1e-3 (measured on the synthetic data, while float64 gives
the same gradients within 1e-14). In float64 a comparison of DDP with a
single process checks the distribution, not float32's rounding.
"""
from mmseg.registry import MODELS

from asda.models.segmentors import ReferringEncoderDecoder


@MODELS.register_module()
class Float64Segmentor(ReferringEncoderDecoder):
    """:class:`ReferringEncoderDecoder` with float64 parameters and inputs
    (the losses' per-pixel terms stay as the loss computes them)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.double()

    def extract_feat(self, inputs, data_samples=None, texts=None):
        return super().extract_feat(inputs.double(), data_samples, texts)
