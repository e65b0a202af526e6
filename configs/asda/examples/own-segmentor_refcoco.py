# Mixing ASDA into your own mmseg config (3/3): ASDA's data side
# (RefCOCODataset, the referring transforms: flip with the left/right word
# swap, resize, packing with the expression in metainfo['text']) and
# RISMetric, under a segmentor of your own: here FiLMReferringSegmentor
# (projects/asda/examples/film_segmentor.py: a small conv encoder modulated by
# the expression, decoded by mmseg's FCNHead). Any segmentor that reads
# data_samples[i].metainfo['text'] fits.
#   python tools/train.py configs/asda/examples/own-segmentor_refcoco.py
_base_ = [
    '../_base_/datasets/refcoco.py',
    '../_base_/schedules/schedule_30e.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['asda', 'asda.examples.film_segmentor'],
                      allow_failed_imports=False)

img_size = 416
model = dict(
    type='FiLMReferringSegmentor',
    channels=64,
    context_length=17,
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(img_size, img_size),
        test_cfg=dict(size=(img_size, img_size))),
    decode_head=dict(
        type='FCNHead',
        in_channels=64,
        in_index=0,
        channels=64,
        num_convs=2,
        concat_input=False,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0,
                         avg_non_ignore=True)))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01))
