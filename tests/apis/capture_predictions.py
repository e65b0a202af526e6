"""Test-only metric: keeps each sample's mask and probability map.

Imported through ``custom_imports`` (``tests/apis`` is on the path of the
test process and put on PYTHONPATH for a child). Writes
``{sent_id: dict(mask, prob, text)}`` as a pickle to ``out_file``.
"""
import pickle

from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS


@METRICS.register_module(force=True)
class CaptureRISPredictions(BaseMetric):
    """See the module docstring.

    Args:
        out_file (str): Where to write the pickle.
    """

    def __init__(self, out_file: str, **kwargs):
        super().__init__(**kwargs)
        self.out_file = out_file

    def process(self, data_batch, data_samples):
        for sample in data_samples:
            self.results.append((sample['sent_id'], dict(
                mask=sample['pred_sem_seg']['data'][0].cpu().numpy().astype(bool),
                prob=sample['seg_logits']['data'][0].cpu().float().numpy(),
                text=sample['text'])))

    def compute_metrics(self, results):
        with open(self.out_file, 'wb') as f:
            pickle.dump(dict(results), f)
        return {}
