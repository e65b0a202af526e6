from .clip_backbone import CLIPBackbone
from .tokenizer import CLIPTokenizer, TruncationWarning

__all__ = ['CLIPBackbone', 'CLIPTokenizer', 'TruncationWarning']
