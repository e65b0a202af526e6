# Table 5: 'conv' adaptive selection network (Phi_as) in AFS.
_base_ = ['./asda_vitb_10e_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)
model = dict(neck=dict(selector='conv'))
