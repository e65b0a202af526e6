from .afsf import AFSF

__all__ = ['AFSF']
