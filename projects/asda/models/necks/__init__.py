from .afsf import AFSF
from .feature_adapter import ReferringFeatureAdapter

__all__ = ['AFSF', 'ReferringFeatureAdapter']
