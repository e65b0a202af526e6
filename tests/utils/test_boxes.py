"""asda.utils.boxes: boxes and 8-connected components, by hand."""
import numpy as np
import pytest
import torch

from asda.utils.boxes import box_iou, largest_component_box, mask_box, mask_components


def _mask(h, w, *rects):
    """(h, w) uint8 with 1 in each (y0, y1, x0, x1) rectangle."""
    m = np.zeros((h, w), np.uint8)
    for y0, y1, x0, x1 in rects:
        m[y0:y1, x0:x1] = 1
    return m


def test_box_of_a_mask_spans_every_part():
    m = _mask(10, 12, (2, 6, 3, 9), (9, 10, 11, 12))
    assert mask_box(m) == [3, 2, 9, 8]  # x 3..11, y 2..9
    assert mask_box(_mask(3, 3, (1, 2, 2, 3))) == [2, 1, 1, 1]  # one pixel
    assert mask_box(np.zeros((4, 4))) is None
    # a (1, H, W) tensor, as the metric holds it
    assert mask_box(torch.as_tensor(m)[None]) == [3, 2, 9, 8]


def test_largest_component_wins_over_a_stray_blob():
    m = _mask(10, 12, (2, 6, 3, 9), (8, 10, 10, 12), (0, 1, 0, 1))
    assert largest_component_box(m) == [3, 2, 6, 4]
    assert largest_component_box(np.zeros((5, 5))) is None


def test_components_are_8_connected():
    # two 2x2 squares touching at a corner (8 pixels, one component) and a
    # separate 5-pixel bar: 4-connectivity would make the bar the largest
    m = _mask(6, 12, (0, 2, 0, 2), (2, 4, 2, 4), (5, 6, 6, 11))
    assert largest_component_box(m) == [0, 0, 4, 4]
    parts = mask_components(m)
    assert [(p['box'], p['area']) for p in parts] == [([0, 0, 4, 4], 8),
                                                       ([6, 5, 5, 1], 5)]
    np.testing.assert_array_equal(parts[1]['mask'], _mask(6, 12, (5, 6, 6, 11)) > 0)
    assert parts[0]['mask'].sum() == 8 and parts[0]['mask'].dtype == bool
    assert [p['area'] for p in mask_components(m, min_area=6)] == [8]
    with pytest.raises(ValueError, match='min_area must be a positive int'):
        mask_components(m, min_area=0)


def test_box_iou_by_hand():
    assert box_iou([0, 0, 4, 4], [2, 2, 4, 4]) == pytest.approx(4 / 28)
    assert box_iou([0, 0, 4, 2], [0, 0, 4, 4]) == pytest.approx(0.5)
    assert box_iou([0, 0, 2, 2], [2, 0, 2, 2]) == 0.0  # edges touch
    assert box_iou([1, 1, 3, 3], [1, 1, 3, 3]) == 1.0
