# G-Ref, Google partition: data/coco/refcocog/{instances.json,
# refs(google).p}, splits train / val (the test split is not public).
_base_ = ['./refcoco.py']

ann_file = 'refcocog/instances.json'
split_file = 'refcocog/refs(google).p'
train_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
val_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
test_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
