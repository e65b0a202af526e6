# ASDA with CLIP ViT-B/16 (paper Sec. 3): CLIP image + text encoders, AFSF
# neck (AFS + SFA), WGDA head (CFS + WCG), focal + dice loss.
# 416 x 416 input (26 x 26 tokens), context length 17 (RefCOCO/+; G-Ref
# configs set 22). The CLIP weights are open_clip's 'openai' tag, fetched by
# open_clip on first use; use a local file with
#   --cfg-options model.backbone.pretrained=/path/to/ViT-B-16.pt

# Leaf configs set custom_imports=dict(imports=['asda']) (mmengine forbids
# the key in two sibling bases and the dataset bases carry it).

img_size = 416
context_length = 17
norm_cfg = dict(type='GN', num_groups=8, requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # CLIP's normalisation, on 0-255 RGB
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,  # padding = ignore in the loss
    size=(img_size, img_size),
    test_cfg=dict(size=(img_size, img_size)))
model = dict(
    type='ReferringEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='CLIPBackbone',
        model_name='ViT-B-16',
        pretrained='openai',
        quick_gelu=True,  # OpenAI's CLIP weights use QuickGELU (keep it when
        # pretrained is a local copy of them)
        img_size=img_size,
        context_length=context_length,
        out_indices=(4, 5, 6, 7, 8, 9, 10, 11, 12),
        frozen_stages=-1),
    neck=dict(
        type='AFSF',
        in_channels=768,
        text_channels=512,
        low_layers=(4, 5, 6),
        mid_layers=(7, 8, 9),
        top_layer=12,
        d_model=256,
        lateral_channels=32,
        selection='straight_through',
        selector='linear',
        pyramid='paper'),
    decode_head=dict(
        type='WGDAHead',
        in_channels=256,
        text_channels=512,
        num_layers=2,
        num_heads=8,
        ffn_ratio=2.0,
        dropout=0.1,
        decoder_channels=(128, 64, 32),
        num_masks=32,
        coef_channels=128,
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
