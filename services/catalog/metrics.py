"""The catalog's business counters (the kit exposes them with its own on /metrics)."""
from prometheus_client import Counter

UPLOADS = Counter("mall_catalog_uploads_total", "media uploads by kind and outcome",
                  ["kind", "outcome"])  # outcome: stored | refused
SEARCHES = Counter("mall_catalog_searches_total", "shopper keyword searches by outcome",
                   ["outcome"])  # outcome: found | nothing (what shoppers want and we lack)
