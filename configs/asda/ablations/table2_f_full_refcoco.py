# Table 2 (f) = (d) + dual-branch alignment (WGDA): the full model, i.e.
# configs/asda/asda_vitb_refcoco.py.
_base_ = ['../asda_vitb_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
