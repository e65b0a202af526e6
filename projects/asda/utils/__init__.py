"""Utilities (not imported by ``import asda``): FLOP counting, tracing."""
