# RefCOCO+ (UNC splits): data/coco/refcoco+/{instances.json, refs(unc).p}.
# Same pipelines as refcoco.py. Evaluate testA / testB with
#   --cfg-options test_dataloader.dataset.split=testA
_base_ = ['./refcoco.py']

ann_file = 'refcoco+/instances.json'
split_file = 'refcoco+/refs(unc).p'
train_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
val_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
test_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
