# Reference of the ablations (paper Tables 3-5): ASDA ViT-B/16 on RefCOCO
# with the 10-epoch schedule, evaluated on val. Defaults: n = 2 CFS layers,
# Nc = 32 masks, linear AFS selector (Table 3 n=2 / Table 4 Nc=32 / Table 5
# Linear row: 72.57 IoU in the paper), straight-through selection,
# pyramid='paper', coef_pool='avg'.
_base_ = [
    '../_base_/models/asda_vit-b16.py',
    '../_base_/datasets/refcoco.py',
    '../_base_/schedules/schedule_10e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
