# Mixing ASDA into your own mmseg config (2/3): ASDA on another open_clip
# layout, CLIP ViT-L/14 (24 visual layers, width 1024; text width 768,
# embedding 768). Input 448 x 448 (divisible by the patch size 14: a 32 x 32
# token grid). The AFS candidate groups are config values: here layers
# 8/10/12 (low) and 14/16/18 (mid) with layer 24 on top, the ViT-B/16 groups
# (4-6, 7-9 of 12) scaled to 24 layers.
#   python tools/train.py configs/asda/examples/asda_vitl14-448_refcoco.py
_base_ = ['../asda_vitb_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

img_size = 448
low_layers = (8, 10, 12)
mid_layers = (14, 16, 18)
top_layer = 24
data_preprocessor = dict(size=(img_size, img_size), test_cfg=dict(size=(img_size, img_size)))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        model_name='ViT-L-14',
        pretrained='openai',
        quick_gelu=True,
        img_size=img_size,
        out_indices=low_layers + mid_layers + (top_layer, )),
    neck=dict(
        in_channels=1024,
        text_channels=768,
        low_layers=low_layers,
        mid_layers=mid_layers,
        top_layer=top_layer),
    decode_head=dict(text_channels=768))

_scale = (img_size, img_size)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadReferringImage'),
    dict(type='LoadReferringAnnotations'),
    dict(type='ReferringRandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=32, contrast_range=(0.5, 1.5),
         saturation_range=(0.5, 1.5), hue_delta=5),  # as the RefCOCO base
    dict(type='ReferringResize', scale=_scale, keep_ratio=True),
    dict(type='PackReferringInputs'),
]))
_test_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='ReferringResize', scale=_scale, keep_ratio=True),
    dict(type='LoadReferringAnnotations'),
    dict(type='PackReferringInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=_test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_test_pipeline))
