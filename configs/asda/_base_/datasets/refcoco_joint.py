# Joint training on the train splits of RefCOCO (unc), RefCOCO+ (unc) and
# G-Ref (umd) together, the images of every evaluation split left out:
#   data/coco/train2014/*.jpg
#   data/coco/{refcoco,refcoco+}/{instances.json, refs(unc).p}
#   data/coco/refcocog/{instances.json, refs(umd).p, refs(google).p}
# The three share COCO train2014: one dataset's val / test images are
# another's train images. JointReferringDataset drops from each train split
# every image of the other splits of the three refs files (val, testA, testB,
# test) and of G-Ref's Google val (`exclude`; remove it if you have no
# refs(google).p), and logs the dropped counts. `ratios`: per dataset, the
# share of its samples seen each epoch (2: twice; 0.5: half, drawn at random).
# The members share refcoco.py's train settings (data_root, data_prefix,
# split, sample_mode, pipeline), which the wrapper passes on to them.
# Validation: RefCOCO val; evaluate the others with --cfg-options, e.g.
#   test_dataloader.dataset.ann_file=refcocog/instances.json
#   test_dataloader.dataset.split_file="refcocog/refs(umd).p"
#   test_dataloader.dataset.split=test
_base_ = ['./refcoco.py']

train_dataloader = dict(
    dataset=dict(
        type='JointReferringDataset',
        datasets=[
            dict(type='RefCOCODataset', ann_file='refcoco/instances.json',
                 split_file='refcoco/refs(unc).p'),
            dict(type='RefCOCODataset', ann_file='refcoco+/instances.json',
                 split_file='refcoco+/refs(unc).p'),
            dict(type='RefCOCODataset', ann_file='refcocog/instances.json',
                 split_file='refcocog/refs(umd).p'),
        ],
        ratios=[1.0, 1.0, 1.0],
        exclude=[
            dict(type='RefCOCODataset', ann_file='refcocog/instances.json',
                 split_file='refcocog/refs(google).p', splits=['val']),
        ]))
