from .binary_losses import BinaryDiceLoss, BinaryFocalLoss

__all__ = ['BinaryFocalLoss', 'BinaryDiceLoss']
