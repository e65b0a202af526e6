# G-Ref, UMD partition: data/coco/refcocog/{instances.json, refs(umd).p},
# splits train / val / test. Evaluate the test split with
#   --cfg-options test_dataloader.dataset.split=test
_base_ = ['./refcoco.py']

ann_file = 'refcocog/instances.json'
split_file = 'refcocog/refs(umd).p'
train_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
val_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
test_dataloader = dict(
    dataset=dict(ann_file=ann_file, split_file=split_file, split='val'))
