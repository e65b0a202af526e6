# The synthetic referring dataset written by
#   python tools/dataset_converters/make_synthetic_refcoco.py \
#       --out-dir data/synthetic
# (refer format: images/, refcoco/{instances.json, refs(unc).p, refs(umd).p,
# refs(google).p}). Small images and a small input size so that a tiny CLIP
# learns it on a few CPU cores. Evaluate testA / testB with
#   --cfg-options test_dataloader.dataset.split=testA
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

dataset_type = 'RefCOCODataset'
data_root = 'data/synthetic'
ann_file = 'refcoco/instances.json'
split_file = 'refcoco/refs(unc).p'
data_prefix = dict(img_path='images/')
img_scale = (224, 224)  # keep-ratio resize; the data preprocessor pads
train_split = 'train'
val_split = 'val'
test_split = 'val'
train_sample_mode = 'sentence'

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
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split_file=split_file,
        data_prefix=data_prefix,
        split=train_split,
        sample_mode=train_sample_mode,
        pipeline=train_pipeline))
# Batch 1: test images differ in size after the keep-ratio resize.
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split_file=split_file,
        data_prefix=data_prefix,
        split=val_split,
        sample_mode='sentence',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=ann_file,
        split_file=split_file,
        data_prefix=data_prefix,
        split=test_split,
        sample_mode='sentence',
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='RISMetric', iou_thrs=(0.5, 0.6, 0.7, 0.8, 0.9))
test_evaluator = val_evaluator
