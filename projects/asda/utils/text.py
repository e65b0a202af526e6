"""The rule for an expression's text, written once: the datasets' refs
check, the converters, the tokenizer and the inferencer ask it. It sits in
:mod:`asda.utils`, below the data, the models and the APIs, which all ask it.

An expression must hold a printable word once normalised as the text
encoder's tokenizer sees it: HTML entities decoded (CLIP's cleaning does it
twice, so ``&amp;nbsp;`` is a space), terminal escape sequences removed (an
ANSI colour code ``ESC [ 31 m`` is no text, though ``[31m`` is printable),
and only letters, numbers, punctuation and symbols counted (Unicode
categories L, N, P, S). Control characters, format characters (a byte-order
mark, a zero-width space), separators, unassigned code points and the two
stand-ins for content that is missing (U+FFFC, the object replacement
character a rich-text editor leaves for an image; U+FFFD, the replacement
character of a failed decoding) are not.
"""
import html
import re
import unicodedata

__all__ = ['check_text']

#: Terminal escape sequences (ECMA-48): a CSI sequence (``ESC [`` or the
#: 8-bit CSI, parameters, final byte); an OSC / DCS / SOS / PM / APC string
#: up to its BEL or string terminator; any other escape (``ESC ( B``).
_ESCAPES = re.compile(
    r'(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]'
    r'|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c)'
    r'|\x1b[ -/]*[0-~]', re.DOTALL)
#: The Unicode categories of a printable character (their first letter).
_PRINTABLE = frozenset('LNPS')
#: Symbols that stand for missing content: U+FFFC, U+FFFD.
_STAND_INS = frozenset('\ufffc\ufffd')


def _has_printable(text: str) -> bool:
    """Whether ``text`` has a printable character once normalised (see the
    module)."""
    text = _ESCAPES.sub('', html.unescape(html.unescape(text)))
    return any(unicodedata.category(c)[0] in _PRINTABLE and c not in _STAND_INS
               for c in text)


def check_text(text, what: str = 'expression') -> str:
    """Return ``text`` if it can be an expression: a str with a printable
    word (see the module). The one owner of that rule: the tokenizer
    (:class:`asda.models.backbones.tokenizer.CLIPTokenizer`), the inferencer
    (:func:`asda.apis.check_expressions`) and the datasets' refs check
    (:func:`asda.datasets.refs_io.check_refs`) ask it.

    Raises:
        TypeError: ``text`` is not a str (``what`` names it).
        ValueError: ``text`` is empty or blank, or has no printable
            character once normalised (control or format characters only,
            a byte-order mark, a terminal escape sequence).
    """
    if not isinstance(text, str):
        raise TypeError(f'{what} must be a str, got {type(text).__name__}: '
                        f'{text!r}')
    if not text.strip():
        raise ValueError(f'{what} is empty: {text!r}')
    if not _has_printable(text):
        raise ValueError(
            f'{what} has no printable word: {text!r} (control and format '
            'characters, such as a byte-order mark, and terminal escape '
            'sequences are not text)')
    return text
