"""Utilities.

:mod:`asda.utils.atomic` (crash-safe file writes) is part of the plugin: the
engine's checkpoint hooks and RISMetric import it, so ``import asda``
imports this package. :mod:`asda.utils.boxes` (the box and the connected
components of a mask, box IoU) is part of it too: RISMetric's REC accuracy,
the inferencer and the dataset converters ask it. :mod:`asda.utils.flops` (FLOP counting),
:mod:`asda.utils.op_count` (operator counting) and :mod:`asda.utils.tracing`
(a tensor-in / tensor-out view of a segmentor) are imported only by the
tools and the tests. The command-line argument types live in
:mod:`asda.engine.cli`.
"""
