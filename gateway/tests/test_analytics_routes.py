"""Event counts through the gateway: an event published on the broker, recorded by the real
analytics worker, counted by the real analytics server, read by an analyst."""
from __future__ import annotations

import uuid

from mall.events.v1 import catalog_events_pb2

from .helpers import bearer, token

ANALYST = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("analyst",)))


def test_analyst_reads_event_counts(gateway_with, worker_process, publish_event, wait_until):
    gateway = gateway_with("analytics")
    worker_process("analytics")
    empty = gateway.get("/v1/admin/analytics/event-counts", headers=ANALYST)
    assert empty.status_code == 200 and empty.json()["total"] == 0

    for _ in range(2):
        publish_event("catalog", "product.published", catalog_events_pb2.ProductPublished())

    def counted():
        body = gateway.get("/v1/admin/analytics/event-counts", headers=ANALYST).json()
        return body if body["total"] == 2 else None

    body = wait_until(counted, timeout=20, message="two product.published events counted")
    assert body["counts"] == [{"type": "product.published", "source": "catalog", "count": 2}]

    window = gateway.get("/v1/admin/analytics/event-counts", headers=ANALYST,
                         params={"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"})
    assert window.status_code == 200 and window.json()["total"] == 0


def test_event_counts_refuse_times_without_zone(gateway_with):
    gateway = gateway_with("analytics")
    response = gateway.get("/v1/admin/analytics/event-counts", headers=ANALYST,
                           params={"since": "2026-01-01T00:00:00"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "since"
    garbage = gateway.get("/v1/admin/analytics/event-counts", headers=ANALYST,
                          params={"until": "yesterday"})
    assert garbage.status_code == 400 and garbage.json()["errors"][0]["field"] == "until"


def test_analyst_reads_return_counts(gateway_with, worker_process, publish_event, wait_until):
    from mall.events.v1 import support_events_pb2

    gateway = gateway_with("analytics")
    worker_process("analytics")
    publish_event("support", "aftersale.applied", support_events_pb2.AfterSaleApplied(
        request_id="as-1", order_id="o-1", kind="exchange", reason_code="wrong_size",
        lines=[support_events_pb2.AfterSaleLine(line_id="l-1", product_id="p-1", sku_id="s-1",
                                                quantity=1, size="75B")]))

    def counted():
        body = gateway.get("/v1/admin/analytics/return-counts", headers=ANALYST,
                           params={"by": "size"}).json()
        return body if body["units"] == 1 else None

    body = wait_until(counted, timeout=20, message="the return counted")
    assert [(c["key"], c["requests"], c["units"]) for c in body["counts"]] == [("75B", 1, 1)]
    refunds_only = gateway.get("/v1/admin/analytics/return-counts", headers=ANALYST,
                               params={"by": "reason", "kind": "refund_only"})
    assert refunds_only.status_code == 200 and refunds_only.json()["counts"] == []
    bad = gateway.get("/v1/admin/analytics/return-counts", headers=ANALYST, params={"by": "colour"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "by"
