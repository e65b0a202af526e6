# Table 2 (f) on the synthetic dataset: the full model, i.e. the demo's
# config configs/asda/asda_tiny_synthetic.py (`make demo` trains it).
_base_ = ['../../asda_tiny_synthetic.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
