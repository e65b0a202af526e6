"""Utilities (not imported by ``import asda``): FLOP counting, tracing,
command-line argument types."""
