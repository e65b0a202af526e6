# Mixing ASDA into your own mmseg config (1/3): ASDA's CLIP backbone and AFSF
# neck, with the coarse map F_coarse decoded by mmseg's stock FCNHead. The
# neck returns a dict (F_coarse + the text features WGDAHead uses);
# ReferringFeatureAdapter hands F_coarse to the stock head as a 1-tuple.
#   python tools/train.py configs/asda/examples/asda-neck_fcn-head_refcoco.py
_base_ = ['../asda_vitb_refcoco.py']
custom_imports = dict(imports=['asda'], allow_failed_imports=False)

model = dict(
    neck=dict(
        _delete_=True,
        type='ReferringFeatureAdapter',
        keys=('feat', ),
        neck={{_base_.model.neck}}),
    decode_head=dict(
        _delete_=True,
        type='FCNHead',  # mmseg's own head
        in_channels=256,  # AFSF d_model
        in_index=0,
        channels=128,
        num_convs=2,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=2,
        out_channels=1,  # one logit: sigmoid > threshold
        threshold=0.5,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0,
                         avg_non_ignore=True)))
