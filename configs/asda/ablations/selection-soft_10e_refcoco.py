# AFS selection 'soft' instead of straight-through (see asda.models.necks.afsf).
_base_ = ['./asda_vitb_10e_refcoco.py']
model = dict(neck=dict(selection='soft'))
