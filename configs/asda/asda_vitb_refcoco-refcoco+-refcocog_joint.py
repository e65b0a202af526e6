# ASDA, CLIP ViT-B/16, trained on RefCOCO + RefCOCO+ + G-Ref (umd) train
# together, without any image of their val / test splits (and G-Ref's Google
# val): configs/asda/_base_/datasets/refcoco_joint.py. 416 x 416, context
# length 22 (G-Ref's expressions are longer), 30 epochs; validated on RefCOCO
# val.
#   bash tools/dist_train.sh configs/asda/asda_vitb_refcoco-refcoco+-refcocog_joint.py 2
_base_ = [
    './_base_/models/asda_vit-b16.py',
    './_base_/datasets/refcoco_joint.py',
    './_base_/schedules/schedule_30e.py',
    './_base_/default_runtime.py',
]
model = dict(backbone=dict(context_length=22))
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
