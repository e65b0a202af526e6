"""open_clip's BPE tokenizer with an explicit, reported truncation.

Shapes: N expressions, L context length.
"""
import warnings
from typing import NamedTuple, Sequence, Union

import torch

from ...utils.text import check_text

__all__ = ['CLIPTokenizer', 'Encoding', 'TruncationWarning']


class TruncationWarning(UserWarning):
    """An expression had more tokens than the context length and was cut."""


class Encoding(NamedTuple):
    """One expression, tokenised (:meth:`CLIPTokenizer.encode`).

    Attributes:
        ids (Tensor): (L,) long, ``[SOT] tokens [EOT] 0 ...``, cut to L.
        num_tokens (int): Its tokens with SOT and EOT, before any cut.
        truncated (bool): Whether it was cut (``num_tokens > L``).
    """
    ids: torch.Tensor
    num_tokens: int
    truncated: bool


class CLIPTokenizer:
    """open_clip's BPE tokenizer with an explicit, reported truncation.

    ``[SOT] tokens [EOT] 0 ...`` padded to ``context_length``. An expression
    longer than ``context_length - 2`` tokens is cut and still ends with the
    end-of-text token (the sentence feature is read there), with a
    :class:`TruncationWarning`. :meth:`encode` tokenises one expression and
    says whether it was cut, for a caller that reports it itself (the
    inferencer, which then hands the ids to the model: each expression is
    tokenised once). The vocabulary ships with open_clip; it is loaded once
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

    def encode(self, text: str, what: str = 'expression') -> Encoding:
        """One expression -> its :class:`Encoding` (no warning: the caller
        reports a truncation, as :meth:`__call__` and the inferencer do).
        ``what`` names the text in the error of a bad one."""
        bpe = self.bpe()
        ids = [bpe.sot_token_id] + bpe.encode(check_text(text, what)) + \
            [bpe.eot_token_id]
        num_tokens, length = len(ids), self.context_length
        if num_tokens > length:
            ids = ids[:length - 1] + [bpe.eot_token_id]
        out = torch.zeros(length, dtype=torch.long)
        out[:len(ids)] = torch.tensor(ids, dtype=torch.long)
        return Encoding(out, num_tokens, num_tokens > length)

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        """Expressions -> (N, L) token ids; a :class:`TruncationWarning` for
        each one cut."""
        if isinstance(texts, str):
            texts = [texts]
        rows = []
        for i, text in enumerate(texts):
            encoding = self.encode(text, f'expression {i}')
            if encoding.truncated:
                warnings.warn(
                    f'expression truncated to context length '
                    f'{self.context_length} ({encoding.num_tokens} tokens '
                    f'with SOT/EOT): {text!r}', TruncationWarning, stacklevel=2)
            rows.append(encoding.ids)
        if not rows:
            return torch.zeros(0, self.context_length, dtype=torch.long)
        return torch.stack(rows)
