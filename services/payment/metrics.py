"""Payment's own Prometheus metrics (the kit's are in servicekit.metrics)."""
from prometheus_client import Counter

AFTERSALE_REFUNDS = Counter("mall_payment_aftersale_refunds_total",
                            "aftersale.refund_requested events by outcome (requested: refunds written "
                            "and sent; duplicate: already written; refused: more than is left, or "
                            "no payment took money)", ["outcome"])
