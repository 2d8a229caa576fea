"""Health, readiness, metrics, OpenAPI and media serving."""
from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.app import create_app


def test_healthz_needs_no_service(settings, offline):
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_names_the_services_not_serving(settings, offline):
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert set(body["services"]) >= {"member", "catalog", "analytics", "order", "logistics"}
    assert body["services"]["catalog"] == "UNAVAILABLE"
    assert "catalog" in body["detail"] and "member" in body["detail"]


def test_metrics_count_requests_by_route_template(settings, offline):
    with TestClient(create_app(settings)) as client:
        client.get("/v1/nowhere/at/all")
        client.get("/media/p-123/missing.jpg")
        text = client.get("/metrics").text
    assert 'mall_gateway_requests_total{method="GET",route="/media/{key:path}",status="404"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "mall_gateway_request_seconds_bucket" in text
    assert "p-123" not in text  # templates, not raw paths: bounded label cardinality


def test_openapi_lists_routes_with_tags(settings, offline):
    with TestClient(create_app(settings)) as client:
        spec = client.get("/openapi.json").json()
    assert spec["paths"]["/v1/products"]["get"]["tags"] == ["catalog"]
    assert spec["paths"]["/v1/admin/products/{product_id}/publish"]["post"]["tags"] == [
        "admin-catalog"]
    assert spec["paths"]["/v1/auth/wechat-login"]["post"]["tags"] == ["auth"]
    assert {t["name"] for t in spec["tags"]} >= {"auth", "catalog", "admin-catalog", "admin-staff"}
    problem = spec["paths"]["/v1/admin/products"]["post"]["responses"]["400"]
    assert "application/problem+json" in problem["content"]
    assert "errors" in spec["components"]["schemas"]["ProblemBody"]["properties"]
    assert not any("422" in op["responses"] for ops in spec["paths"].values() for op in ops.values())


def test_media_is_served_from_the_media_root_and_never_outside(settings, offline, tmp_path):
    settings.media_root.mkdir(parents=True)
    (settings.media_root / "p1").mkdir()
    (settings.media_root / "p1" / "front.jpg").write_bytes(b"\xff\xd8jpeg")
    (tmp_path / "secret.txt").write_text("not for you")
    with TestClient(create_app(settings)) as client:
        ok = client.get("/media/p1/front.jpg")
        escape = client.get("/media/..%2Fsecret.txt")
        missing = client.get("/media/p1/back.jpg")
    assert ok.status_code == 200 and ok.content == b"\xff\xd8jpeg"
    assert ok.headers["content-type"] == "image/jpeg"
    assert escape.status_code == 404 and "not for you" not in escape.text
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
