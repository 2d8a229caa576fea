"""Stock administration through the gateway against the real logistics server: warehouse staff
create warehouses, receive, adjust, transfer and read stock; bad input names its fields; other
roles are refused."""
from __future__ import annotations

import uuid

import pytest

from services.logistics.skus import CatalogProduct, CatalogSku, register_product

from .helpers import bearer, token

CLERK = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("warehouse",)))
OPERATOR = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("operator",)))
SHOPPER = bearer(token(sub="m-1"))
EAST = {"code": "SH-EAST", "name": "华东仓", "province": "上海市", "city": "上海市",
        "latitude": 31.15, "longitude": 121.12, "priority": 100, "carriers": ["sf", "zto"]}


@pytest.fixture
def gateway(gateway_with, runtime_for):
    client = gateway_with("logistics")
    with runtime_for("logistics").transaction() as session:  # what catalog's events would say
        register_product(session, CatalogProduct("p-1", "无钢圈文胸", "published", 1,
                                                 (CatalogSku("sku-75b", "B-75B"),)))
    return client


def test_warehouse_staff_run_the_stock(gateway):
    created = gateway.post("/v1/admin/logistics/warehouses", headers=CLERK, json=EAST)
    assert created.status_code == 201, created.text
    assert created.json()["carriers"] == ["sf", "zto"]
    west = {**EAST, "code": "CD-WEST", "name": "西南仓", "province": "四川省", "city": "成都市",
            "carriers": []}
    assert gateway.post("/v1/admin/logistics/warehouses", headers=CLERK,
                        json=west).status_code == 201
    receipt = gateway.post("/v1/admin/logistics/stock/receipts", json={
        "warehouse_code": "SH-EAST", "sku_id": "sku-75b", "quantity": 8, "reason": "DN-1"},
        headers={**CLERK, "Idempotency-Key": "dn-1"})
    assert receipt.status_code == 201 and receipt.json()["stock"]["on_hand"] == 8
    again = gateway.post("/v1/admin/logistics/stock/receipts", json={
        "warehouse_code": "SH-EAST", "sku_id": "sku-75b", "quantity": 8, "reason": "DN-1"},
        headers={**CLERK, "Idempotency-Key": "dn-1"})
    assert again.json()["replayed"] is True and again.json()["stock"]["on_hand"] == 8
    moved = gateway.post("/v1/admin/logistics/stock/transfers", headers=CLERK, json={
        "from_warehouse_code": "SH-EAST", "to_warehouse_code": "CD-WEST", "sku_id": "sku-75b",
        "quantity": 6})
    assert moved.status_code == 201, moved.text
    low = gateway.get("/v1/admin/logistics/warehouses/SH-EAST/low-stock", headers=CLERK)
    assert [(s["sku_id"], s["sellable"], s["level"]) for s in low.json()["stock"]] == [
        ("sku-75b", 2, "LOW")]
    stock = gateway.get("/v1/admin/logistics/stock", params={"sku_id": "sku-75b"}, headers=CLERK)
    assert {w["warehouse_code"]: w["on_hand"] for w in stock.json()["skus"][0]["warehouses"]} == {
        "SH-EAST": 2, "CD-WEST": 6}
    ledger = gateway.get("/v1/admin/logistics/ledger", params={"sku_id": "sku-75b"},
                         headers=CLERK).json()["entries"]
    assert [(e["kind"], e["quantity"]) for e in ledger] == [
        ("TRANSFER", 6), ("TRANSFER", -6), ("RECEIPT", 8)]


def test_bad_input_names_the_field_and_changes_nothing(gateway):
    gateway.post("/v1/admin/logistics/warehouses", headers=CLERK, json=EAST)
    for quantity in (0, -1, 1.5, "3"):
        response = gateway.post("/v1/admin/logistics/stock/receipts", headers=CLERK, json={
            "warehouse_code": "SH-EAST", "sku_id": "sku-75b", "quantity": quantity})
        assert response.status_code == 400, (quantity, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["quantity"]
    below = gateway.post("/v1/admin/logistics/stock/adjustments", headers=CLERK, json={
        "warehouse_code": "SH-EAST", "sku_id": "sku-75b", "kind": "damage", "delta": -1,
        "reason": "破损"})
    assert below.status_code == 409
    assert below.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in below.json()["errors"]] == ["delta"]
    unknown = gateway.post("/v1/admin/logistics/stock/receipts", headers=CLERK, json={
        "warehouse_code": "NOWHERE", "sku_id": "sku-ghost", "quantity": 1})
    assert unknown.status_code == 404
    assert {e["field"] for e in unknown.json()["errors"]} == {"warehouse_code", "sku_id"}
    no_province = gateway.post("/v1/admin/logistics/warehouses", headers=CLERK,
                               json={**EAST, "code": "HZ-1", "province": ""})
    assert no_province.status_code == 400
    assert [e["field"] for e in no_province.json()["errors"]] == ["province"]
    bad_carrier = gateway.post("/v1/admin/logistics/warehouses", headers=CLERK,
                               json={**EAST, "code": "HZ-2", "carriers": ["pigeon"]})
    assert bad_carrier.status_code == 400
    assert [e["field"] for e in bad_carrier.json()["errors"]] == ["warehouse.carriers[0]"]
    ledger = gateway.get("/v1/admin/logistics/ledger", params={"sku_id": "sku-75b"},
                         headers=CLERK)
    assert ledger.json()["entries"] == []


def test_only_warehouse_staff_and_admins(gateway):
    for headers, status in ((OPERATOR, 403), (SHOPPER, 403), ({}, 401)):
        assert gateway.get("/v1/admin/logistics/warehouses", headers=headers).status_code == status


def test_ship_in_bulk_checks_the_list_before_asking_logistics(gateway):
    empty = gateway.post("/v1/admin/logistics/waybills", json={"order_ids": []}, headers=CLERK)
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "order_ids"
    unknown = gateway.post("/v1/admin/logistics/waybills", json={"order_ids": ["o-none"]},
                           headers=CLERK)
    assert unknown.status_code == 200 and unknown.json()["shipments"] == []
    assert gateway.post("/v1/admin/logistics/waybills", json={"order_ids": ["o-1"]},
                        headers=OPERATOR).status_code == 403
