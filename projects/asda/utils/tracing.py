"""A tensor-in / tensor-out view of a referring segmentor, for tracing."""
import torch
import torch.nn as nn

__all__ = ['TokensForward']


class TokensForward(nn.Module):
    """``segmentor.forward_tokens(img, tokens)`` as a two-tensor module.

    JIT tracing (FLOP counting) and ONNX export need plain tensor inputs;
    the segmentor's own ``forward`` takes data samples.
    """

    def __init__(self, segmentor: nn.Module):
        super().__init__()
        self.model = segmentor

    def forward(self, img: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.forward_tokens(img, tokens)
