"""Hand a referring neck's fused map to a stock mmseg decode head.

ASDA's neck (:class:`asda.AFSF`) returns a dict (``feat``: F_coarse (B, C, H,
W), plus the word features, sentence feature and the AFS choices that
:class:`asda.WGDAHead` uses). mmseg's heads (``FCNHead``, ``ASPPHead``, ...)
take a tuple of maps and pick one with ``in_index``.
:class:`ReferringFeatureAdapter` wraps the neck and returns the maps named in
``keys`` as that tuple, so the coarse map is decoded by any stock head (the
text already fused into it by AFSF).
"""
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS

__all__ = ['ReferringFeatureAdapter']


@MODELS.register_module()
class ReferringFeatureAdapter(BaseModule):
    """A referring neck whose dict output becomes a tuple of maps.

    Args:
        neck (dict): Config of the wrapped neck (e.g. ``dict(type='AFSF',
            ...)``), whose output is a dict.
        keys (Sequence[str]): Output entries returned, in order (each a
            (B, C, H, W) map). Defaults to ``('feat',)``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, neck: dict, keys: Sequence[str] = ('feat', ),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.neck = MODELS.build(neck)
        self.keys = tuple(keys)
        if not self.keys:
            raise ValueError('keys must name at least one output of the neck')

    def forward(self, inputs) -> Tuple[torch.Tensor, ...]:
        out = self.neck(inputs)
        if not isinstance(out, dict):
            raise TypeError(f'{type(self.neck).__name__} returned '
                            f'{type(out).__name__}, not a dict')
        missing = [k for k in self.keys if k not in out]
        if missing:
            raise KeyError(f'{type(self.neck).__name__} output has no {missing}'
                           f'; it has {sorted(out)}')
        return tuple(out[k] for k in self.keys)
