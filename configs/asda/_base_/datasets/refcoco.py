# RefCOCO (UNC splits) in the refer release's format:
#   data/coco/train2014/*.jpg
#   data/coco/refcoco/{instances.json, refs(unc).p}
# Evaluate testA / testB with
#   --cfg-options test_dataloader.dataset.split=testA
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

dataset_type = 'RefCOCODataset'
data_root = 'data/coco/'
ann_file = 'refcoco/instances.json'
split_file = 'refcoco/refs(unc).p'
data_prefix = dict(img_path='train2014/')
img_scale = (416, 416)  # keep-ratio resize; the data preprocessor pads
train_split = 'train'
val_split = 'val'
test_split = 'val'
# 'sentence': one sample per expression (the paper's epochs); 'ref': one
# sample per ref with a random expression on each access (CRIS).
train_sample_mode = 'sentence'

train_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='LoadReferringAnnotations'),
    dict(type='ReferringRandomFlip', prob=0.5),  # swaps left/right words
    # mmseg's default hue_delta (18 of OpenCV's 180 units, +-36 degrees)
    # can turn a "red car" orange; expressions name colours, so +-10 degrees.
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=5),
    dict(type='ReferringResize', scale=img_scale, keep_ratio=True),
    dict(type='PackReferringInputs'),
]
# The mask is loaded after Resize: it stays at the original image size, the
# size the prediction is brought back to (mmseg's postprocess_result).
test_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='ReferringResize', scale=img_scale, keep_ratio=True),
    dict(type='LoadReferringAnnotations'),
    dict(type='PackReferringInputs'),
]

train_dataloader = dict(
    batch_size=14,  # per GPU; the paper trains on 2 GPUs (28)
    num_workers=4,
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
# Batch 1: test images differ in size after the keep-ratio resize, and
# mmseg's SegDataPreProcessor pads (test_cfg size) only one size per batch.
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
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
    num_workers=4,
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
