"""The synthetic world: coloured shapes in which the plugin is tested and
demonstrated (``make demo``, ``make demo-gres``, ``make pretrain``).

It is no part of the plugin: the tools and the tests import it, and nothing
in ``models/``, ``datasets/``, ``evaluation/``, ``engine/`` or ``apis/`` does
(``import asda`` leaves it out; ``tests/synthetic/test_boundary.py`` holds
this). It imports the plugin as any user would.

Modules, from the world up:

* :mod:`~asda.synthetic.scenes`: colours, shapes, placement, painting,
  rendering; the one owner of the world's rules (relations, regions, sizes,
  nouns, category ids);
* :mod:`~asda.synthetic.expressions`: the checker that resolves an
  expression (referring or gRefCOCO form) in a scene;
* :mod:`~asda.synthetic.writing`: what the two dataset generators share
  (options, split sizes, output folder, images and annotations);
* :mod:`~asda.synthetic.refer`: the RefCOCO-style generator;
* :mod:`~asda.synthetic.gres`: the gRefCOCO generator;
* :mod:`~asda.synthetic.captions`: the caption stream of stage one;
* :mod:`~asda.synthetic.probes`: the shape probe and the text-only control;
* :mod:`~asda.synthetic.clip_pretrain`: stage one, contrastive pretraining
  of the tiny CLIP;
* :mod:`~asda.synthetic.demo`: the steps of ``make demo`` and ``make
  demo-gres``.
"""
