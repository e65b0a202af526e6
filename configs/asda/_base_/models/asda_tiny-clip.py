# ASDA with a small random-init CLIP (tests, CPU demo): the same open_clip
# code path as ViT-B/16, built from an explicit model_cfg. 6 visual layers
# (width 128, 4 heads, patch 16), 4 text layers (width 64); AFS picks among
# layers 2-3 (low) and 4-5 (mid), top layer 6. Every size derives from the
# input: any side divisible by 16 works (img_size only sets the size the
# positional embedding is built for).

# Leaf configs set custom_imports=dict(imports=['asda']) (mmengine forbids
# the key in two sibling bases and the dataset bases carry it).

img_size = 224
context_length = 17
norm_cfg = dict(type='GN', num_groups=8, requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(img_size, img_size),
    test_cfg=dict(size=(img_size, img_size)))
model = dict(
    type='ReferringEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='CLIPBackbone',
        model_cfg=dict(
            embed_dim=64,
            vision_cfg=dict(
                image_size=img_size,
                layers=6,
                width=128,
                head_width=32,
                patch_size=16),
            text_cfg=dict(
                context_length=77,
                vocab_size=49408,  # open_clip's BPE vocabulary
                width=64,
                heads=4,
                layers=4)),
        pretrained=None,
        img_size=img_size,
        context_length=context_length,
        out_indices=(2, 3, 4, 5, 6)),
    neck=dict(
        type='AFSF',
        in_channels=128,
        text_channels=64,
        low_layers=(2, 3),
        mid_layers=(4, 5),
        top_layer=6,
        d_model=64,
        lateral_channels=16,
        selection='straight_through',
        selector='linear',
        pyramid='paper'),
    decode_head=dict(
        type='WGDAHead',
        in_channels=64,
        text_channels=64,
        num_layers=2,
        num_heads=4,
        ffn_ratio=2.0,
        dropout=0.0,
        decoder_channels=(32, 16, 16),
        num_masks=32,
        coef_channels=32,
        coef_pool='avg',
        norm_cfg=norm_cfg,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        loss_decode=[
            dict(type='BinaryFocalLoss', gamma=2.0, alpha=0.25, loss_weight=1.0),
            dict(type='BinaryDiceLoss', loss_weight=1.0),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
