# AFS selection 'hard': plain argmax indexing, the official release's
# behaviour. No gradient reaches the selectors nor Phi (they keep their
# initial weights), so DDP must look for unused parameters.
_base_ = ['./asda_vitb_10e_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(selection='hard'))
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
