# ASDA, CLIP ViT-B/16, G-Ref (Google partition): 416 x 416, context length
# 22, 30 epochs. Paper Table 1: val(G) 63.55.
#   bash tools/dist_train.sh configs/asda/asda_vitb_refcocog-google.py 2
_base_ = [
    './_base_/models/asda_vit-b16.py',
    './_base_/datasets/refcocog_google.py',
    './_base_/schedules/schedule_30e.py',
    './_base_/default_runtime.py',
]
model = dict(backbone=dict(context_length=22))
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
