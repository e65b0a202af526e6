# `make demo`'s model and schedule (asda_tiny_synthetic.py) from a random
# CLIP instead of stage one's checkpoint, all of it at the full lr: what
# stage one adds.
#   make demo DEMO_ARGS="--config configs/asda/asda_tiny_synthetic_random_init.py \
#     --work-dir work_dirs/demo_random_init"
_base_ = ['./asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

model = dict(backbone=dict(pretrained=None))
optim_wrapper = dict(paramwise_cfg=None)
