# gRefCOCO (generalized RIS: expressions with one, several or no target),
# the public release read directly:
#   data/coco/train2014/*.jpg
#   data/coco/grefcoco/{instances.json, grefs(unc).json}   (or grefs(unc).p)
# Splits train / val / testA / testB. Evaluate testA / testB with
#   --split testA   (tools/test.py; or --split all)
# RefCOCO's pipelines and loaders (refcoco.py) with the gRefCOCO dataset and
# the GRES metrics (gIoU, cIoU, N-acc, T-acc, Pr@0.7/0.8/0.9).
_base_ = ['./refcoco.py']

dataset_type = 'GRefCOCODataset'
ann_file = 'grefcoco/instances.json'
split_file = 'grefcoco/grefs(unc).json'
train_dataloader = dict(
    dataset=dict(type=dataset_type, ann_file=ann_file, split_file=split_file))
val_dataloader = dict(
    dataset=dict(type=dataset_type, ann_file=ann_file, split_file=split_file))
test_dataloader = dict(
    dataset=dict(type=dataset_type, ann_file=ann_file, split_file=split_file))
val_evaluator = dict(_delete_=True, type='GRESMetric', iou_thrs=(0.7, 0.8, 0.9))
test_evaluator = val_evaluator
