"""Horizontal flip that keeps the referring expression true."""
import re

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

__all__ = ['ReferringRandomFlip', 'swap_left_right']

#: Whole words swapped by a horizontal flip (both ways).
LEFT_RIGHT_WORDS = {
    'left': 'right',
    'leftmost': 'rightmost',
    'lefthand': 'righthand',
    'leftward': 'rightward',
    'leftwards': 'rightwards',
}
_SWAP = {**LEFT_RIGHT_WORDS, **{v: k for k, v in LEFT_RIGHT_WORDS.items()}}
# Longest first so that 'leftmost' is not read as 'left' + 'most'; the
# word boundaries leave 'bright', 'upright', 'lefty' alone.
_PATTERN = re.compile(
    r'\b(' + '|'.join(sorted(_SWAP, key=len, reverse=True)) + r')\b',
    re.IGNORECASE)


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[0].isupper():
        return word[0].upper() + word[1:]
    return word


def swap_left_right(text: str) -> str:
    """Swap the words left <-> right (and leftmost <-> rightmost, ...).

    Whole words only ("bright", "upright" stay), case kept ("Left" ->
    "Right", "LEFT" -> "RIGHT"); ``swap_left_right`` applied twice gives the
    text back for lower-case, capitalised and upper-case words.
    """
    return _PATTERN.sub(
        lambda m: _match_case(_SWAP[m.group(0).lower()], m.group(0)), text)


@TRANSFORMS.register_module()
class ReferringRandomFlip(BaseTransform):
    """Random horizontal flip of image, masks and expression.

    With probability ``prob`` flips ``img`` and every map in ``seg_fields``
    (``gt_seg_map``) left-right and swaps left/right words in ``text``.
    Sets ``flip`` (bool) and ``flip_direction`` (``'horizontal'`` or None)
    as mmcv's ``RandomFlip`` does. Use it for training only: at test time
    mmseg's ``postprocess_result`` would un-flip the logits.

    Args:
        prob (float): Flip probability.
        direction (str): Only ``'horizontal'`` (a vertical flip would need
            top/bottom word swaps).
        text_key (str): Key of the expression. Defaults to ``'text'``.
    """

    def __init__(self,
                 prob: float = 0.5,
                 direction: str = 'horizontal',
                 text_key: str = 'text') -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if direction != 'horizontal':
            raise ValueError('ReferringRandomFlip supports only '
                             f"direction='horizontal', got {direction!r}")
        self.prob = prob
        self.direction = direction
        self.text_key = text_key

    @cache_randomness
    def _do_flip(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def flip(self, results: dict) -> dict:
        """Flip ``results`` unconditionally."""
        results['img'] = mmcv.imflip(results['img'], direction=self.direction)
        fields = set(results.get('seg_fields', [])) | {'gt_seg_map'}
        for key in fields:
            if results.get(key) is not None:
                results[key] = mmcv.imflip(results[key],
                                           direction=self.direction)
        if results.get(self.text_key) is not None:
            results[self.text_key] = swap_left_right(results[self.text_key])
        results['flip'] = True
        results['flip_direction'] = self.direction
        return results

    def transform(self, results: dict) -> dict:
        if self._do_flip():
            return self.flip(results)
        results['flip'] = False
        results['flip_direction'] = None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')
