from .clip_backbone import CLIPBackbone

__all__ = ['CLIPBackbone']
