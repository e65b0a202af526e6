# Table 5: 'mlp' adaptive selection network (Phi_as) in AFS.
_base_ = ['./asda_vitb_10e_refcoco.py']
model = dict(neck=dict(selector='mlp'))
