"""What the model tests read from inside the neck and the head, which the
model itself does not output: AFS's selection probabilities, and the
response masks M' and coefficients f_coef of the dual branch (Eq. 10's
terms). Both are computed by the model's own parts, as its forward does."""
from typing import List, Tuple

import torch

from asda.models.necks.afsf import LayerFeatures


def afs_probs(neck, backbone_out: dict) -> List[torch.Tensor]:
    """[(B, G_low), (B, G_mid)]: softmax of each group's selection logits
    (Eq. 2); ones (B, 1) for a group with one candidate (no selector).

    Args:
        neck (AFSF): A neck with low / mid groups (not ``fusion='top'``).
        backbone_out (dict): The backbone's outputs the neck was given.
    """
    afs = neck.select_layers
    feats, sent = LayerFeatures(backbone_out), backbone_out['sent_feat']
    probs = []
    for selector, layers in ((afs.low_selector, afs.low_layers),
                             (afs.mid_selector, afs.mid_layers)):
        if selector is None:
            probs.append(torch.ones(sent.shape[0], 1))
        else:
            logits = afs.logits(selector, layers, feats, sent)
            probs.append(logits.float().softmax(dim=-1))
    return probs


def masks_and_coefficients(head, neck_out: dict
                           ) -> Tuple[torch.Tensor, torch.Tensor]:
    """M' (B, Nc, 8H, 8W) and f_coef (B, Nc) of a ``branch='dual'`` head."""
    masks, coef, _ = head.decode_branch.parts(neck_out)
    return masks, coef
