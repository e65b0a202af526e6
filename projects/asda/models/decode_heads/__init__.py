from .wgda_head import WGDAHead

__all__ = ['WGDAHead']
