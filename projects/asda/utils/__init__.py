"""Utilities: the lowest layer of the package, importing no other part of
``asda``.

Part of the plugin (``import asda`` imports them): :mod:`asda.utils.atomic`
(crash-safe file writes: the checkpoint hooks, RISMetric),
:mod:`asda.utils.boxes` (the box and the connected components of a mask, box
IoU: RISMetric's REC accuracy, the inferencer, the converters),
:mod:`asda.utils.text` (the rule for an expression's text: the refs check,
the tokenizer, the inferencer), :mod:`asda.utils.labels` (the no-target
label of a sample: the no-target loss, GRESMetric),
:mod:`asda.utils.arg_types` (the argument types of every command line) and
:mod:`asda.utils.malloc` (glibc's heap pad: the runner, the pretraining
tool, the benchmark).
Imported only by the tools and the tests: :mod:`asda.utils.flops` (FLOP
counting), :mod:`asda.utils.op_count` (operator counting),
:mod:`asda.utils.tracing` (a tensor-in / tensor-out view of a segmentor),
:mod:`asda.utils.provenance` (the machine of a recorded result) and
:mod:`asda.utils.progress` (progress bars of the long tools).
"""
