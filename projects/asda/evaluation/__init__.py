from .ris_metric import RISMetric, intersection_union, summarize_ris

__all__ = ['RISMetric', 'intersection_union', 'summarize_ris']
