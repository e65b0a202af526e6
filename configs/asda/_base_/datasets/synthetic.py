# The synthetic referring dataset written by
#   python tools/dataset_converters/make_synthetic_refcoco.py \
#       --out-dir data/synthetic
# (refer format: images/, refcoco/{instances.json, refs(unc).p, refs(umd).p,
# refs(google).p}). RefCOCO's settings (refcoco.py) with small images and a
# small input size, so that a tiny CLIP learns it on a few CPU cores.
# Evaluate testA / testB with
#   --cfg-options test_dataloader.dataset.split=testA
_base_ = ['./refcoco.py']

data_root = 'data/synthetic'
data_prefix = dict(img_path='images/')
img_scale = (224, 224)  # keep-ratio resize; the data preprocessor pads

train_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='LoadReferringAnnotations'),
    dict(type='ReferringRandomFlip', prob=0.5),  # swaps left/right words
    # Hue shifts of at most 2 of OpenCV's 180 units: the expressions name
    # colours (mmseg needs hue_delta >= 1).
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=16,
        contrast_range=(0.8, 1.2),
        saturation_range=(0.8, 1.2),
        hue_delta=2),
    dict(type='ReferringResize', scale=img_scale, keep_ratio=True),
    dict(type='PackReferringInputs'),
]
# Mask loaded after Resize: kept at the original size for the metric.
test_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='ReferringResize', scale=img_scale, keep_ratio=True),
    dict(type='LoadReferringAnnotations'),
    dict(type='PackReferringInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(data_root=data_root, data_prefix=data_prefix,
                 pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, data_prefix=data_prefix,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
