from .local_visualizer import RISLocalVisualizer

__all__ = ['RISLocalVisualizer']
