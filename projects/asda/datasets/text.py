"""The rule for an expression's text, written once: the datasets' refs
check, the tokenizer and the inferencer ask it. It lives with the data (the
lowest layer that needs it) so that the models ask down, not the data up."""

__all__ = ['check_text']


def check_text(text, what: str = 'expression') -> str:
    """Return ``text`` if it can be an expression: a str with a non-blank
    character. The one owner of that rule: the tokenizer
    (:class:`asda.models.backbones.tokenizer.CLIPTokenizer`), the inferencer
    (:func:`asda.apis.check_expressions`) and the datasets' refs check
    (:func:`asda.datasets.refs_io.check_refs`) ask it.

    Raises:
        TypeError: ``text`` is not a str (``what`` names it).
        ValueError: ``text`` is empty or blank.
    """
    if not isinstance(text, str):
        raise TypeError(f'{what} must be a str, got {type(text).__name__}: '
                        f'{text!r}')
    if not text.strip():
        raise ValueError(f'{what} is empty: {text!r}')
    return text
