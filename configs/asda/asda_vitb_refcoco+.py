# ASDA, CLIP ViT-B/16, RefCOCO+ (UNC splits): 416 x 416, context length 17, 30 epochs.
#   bash tools/dist_train.sh configs/asda/asda_vitb_refcoco+.py 2
# Paper Table 1: val 66.84, testA 71.13, testB 57.83.
_base_ = [
    './_base_/models/asda_vit-b16.py',
    './_base_/datasets/refcoco+.py',
    './_base_/schedules/schedule_30e.py',
    './_base_/default_runtime.py',
]
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
