"""Example code for the configs in ``configs/asda/examples/`` (not imported by
``import asda``; configs import it with ``custom_imports``)."""
