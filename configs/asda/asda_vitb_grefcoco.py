# ASDA, CLIP ViT-B/16, gRefCOCO (generalized RIS): the paper's RefCOCO recipe
# (416 x 416, 30 epochs) plus the no-target output (our addition: the paper
# and its release assume one target per expression). No-target expressions
# also train the mask branch, against their empty masks.
#   bash tools/dist_train.sh configs/asda/asda_vitb_grefcoco.py 2
#   python tools/test.py configs/asda/asda_vitb_grefcoco.py CKPT --split all
# No published ASDA figures exist for gRefCOCO.
_base_ = [
    './_base_/models/asda_vit-b16.py',
    './_base_/datasets/grefcoco.py',
    './_base_/schedules/schedule_30e.py',
    './_base_/default_runtime.py',
]
# Context length 17 as RefCOCO (gRefCOCO extends RefCOCO's images and refs).
model = dict(decode_head=dict(no_target=dict(loss_weight=1.0, threshold=0.5)))
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
