# Table 2 (a) on the synthetic dataset with the demo's settings
# (asda_tiny_synthetic.py): F_H * f_E only, CFS decoder with one logit
# channel. Run with
#   python tools/demo_synthetic.py --splits val --work-dir work_dirs/table2_a \
#       --config configs/asda/ablations/synthetic/table2_a_baseline_tiny_synthetic.py
_base_ = ['../../asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(
    neck=dict(fusion='top', low_layers=(), mid_layers=()),
    decode_head=dict(branch='cfs'))
