from .gres_metric import GRESMetric, expression_giou, predicted_no_target, summarize_gres
from .ris_metric import RISMetric, intersection_union, summarize_ris

__all__ = ['RISMetric', 'intersection_union', 'summarize_ris', 'GRESMetric',
           'expression_giou', 'predicted_no_target', 'summarize_gres']
