# The gRefCOCO demo (`make demo-gres`): the `make demo` model, stage one and schedule
# (asda_tiny_synthetic.py) on the synthetic gRefCOCO set, whose expressions
# refer to one object, several, or none (asda.synthetic.gres), with
# the no-target output and the GRES metrics.
#   python tools/train.py configs/asda/asda_tiny_synthetic_gres.py
_base_ = ['./asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

data_root = 'data/synthetic_gres'
dataset_type = 'GRefCOCODataset'
ann_file = 'grefcoco/instances.json'
split_file = 'grefcoco/grefs(unc).json'
# Every expression every epoch ('sentence'): the train split has 1.9x the
# expressions of `make demo`'s, so an epoch takes 1.9x as long; with one
# expression per gref and epoch ('ref', as CRIS trains) the model learns the
# single-target expressions far less well.
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, ann_file=ann_file, split_file=split_file,
    sample_mode='sentence'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, ann_file=ann_file, split_file=split_file))
test_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, ann_file=ann_file, split_file=split_file))
val_evaluator = dict(_delete_=True, type='GRESMetric', iou_thrs=(0.7, 0.8, 0.9))
test_evaluator = val_evaluator
model = dict(decode_head=dict(no_target=dict(loss_weight=1.0, threshold=0.5)))
