"""open_clip's BPE tokenizer with an explicit, reported truncation.

Shapes: N expressions, L context length.
"""
import warnings
from typing import Sequence, Union

import torch

from ...datasets.text import check_text

__all__ = ['CLIPTokenizer', 'TruncationWarning']


class TruncationWarning(UserWarning):
    """An expression had more tokens than the context length and was cut."""


class CLIPTokenizer:
    """open_clip's BPE tokenizer with an explicit, reported truncation.

    ``[SOT] tokens [EOT] 0 ...`` padded to ``context_length``. An expression
    longer than ``context_length - 2`` tokens is cut and still ends with the
    end-of-text token (the sentence feature is read there), with a
    :class:`TruncationWarning`; :meth:`num_tokens` and :meth:`truncates`
    tell beforehand. The vocabulary ships with open_clip; it is loaded once
    per process.

    Args:
        context_length (int): L, including the SOT and EOT tokens.
    """

    _bpe = None

    def __init__(self, context_length: int):
        self.context_length = int(context_length)
        if self.context_length < 2:
            raise ValueError('context_length must be >= 2 (SOT and EOT)')

    @classmethod
    def bpe(cls):
        if cls._bpe is None:
            from open_clip.tokenizer import SimpleTokenizer
            cls._bpe = SimpleTokenizer()
        return cls._bpe

    @property
    def sot_token_id(self) -> int:
        return self.bpe().sot_token_id

    @property
    def eot_token_id(self) -> int:
        return self.bpe().eot_token_id

    def _ids(self, text: str) -> list:
        bpe = self.bpe()
        return [bpe.sot_token_id] + bpe.encode(text) + [bpe.eot_token_id]

    def num_tokens(self, text: str) -> int:
        """Tokens of ``text`` with the start/end-of-text tokens."""
        return len(self._ids(text))

    def truncates(self, text: str) -> bool:
        """Whether ``text`` has more tokens than the context length."""
        return self.num_tokens(text) > self.context_length

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        """Expressions -> (N, L) token ids."""
        if isinstance(texts, str):
            texts = [texts]
        length = self.context_length
        out = torch.zeros(len(texts), length, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = self._ids(check_text(text, f'expression {i}'))
            if len(ids) > length:
                warnings.warn(
                    f'expression truncated to context length {length} '
                    f'({len(ids)} tokens with SOT/EOT): {text!r}',
                    TruncationWarning, stacklevel=2)
                ids = ids[:length - 1] + [self.eot_token_id]
            out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out
