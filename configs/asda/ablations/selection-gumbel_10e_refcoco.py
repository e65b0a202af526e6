# AFS selection 'gumbel' instead of straight-through (see asda.models.necks.afsf).
_base_ = ['./asda_vitb_10e_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(selection='gumbel'))
