"""The shopper's phone, name and street are nowhere in clear after a paid order.

A shopper saves an address with a phone, a name and a street no one else uses, orders to it and
pays; once every service has settled the order (the shipment planned, the points earned, the
notice written, the fact stored), every text, JSON and bytea column of every table of every
service's database (or every byte of its SQLite files, WAL included), every process's log and
every dead-letter queue is searched for them. Member, order and logistics keep them encrypted;
events carry them sealed; nothing else may hold them at all."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pika
import pytest
from sqlalchemy import create_engine, text

from servicekit.config import SERVICES
from servicekit.worker import dead_letter_queue

from .shop import event_count, ok, pay_with_wechat, sign_in, stocked_sku, unique_word

pytestmark = pytest.mark.e2e

# Distinctive values: a hit is this journey's data, never another test's.
NAME = "欧阳蔚岚"
PHONE = "13987650123"
STREET = "梧桐巷8837号"
ADDRESS = {"recipient": NAME, "phone": PHONE, "province": "浙江省", "city": "杭州市",
           "district": "西湖区", "detail": STREET}
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")


def spellings() -> dict[str, list[str]]:
    """Each value as it may be written: itself, and JSON's \\u escapes (json.dumps' default)."""
    return {label: sorted({value, json.dumps(value)[1:-1]})
            for label, value in (("phone", PHONE), ("name", NAME), ("street", STREET))}


def found_in(blob: str | bytes) -> list[str]:
    data = blob if isinstance(blob, str) else blob.decode("utf-8", errors="replace")
    return [label for label, forms in spellings().items() if any(f in data for f in forms)]


def scan_postgres(service: str, url: str) -> list[str]:
    hits = []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            columns = conn.execute(text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = ANY(:types) "
                "ORDER BY table_name, column_name"),
                {"types": [*TEXT_TYPES, "bytea"]}).all()
            assert columns, f"{service}: no column to scan"
            for table, column, kind in columns:
                value = f'"{column}"' if kind == "bytea" else f'"{column}"::text'
                for label, forms in spellings().items():
                    for form in forms:
                        needle = "convert_to(:form, 'UTF8')" if kind == "bytea" else ":form"
                        count = conn.execute(text(
                            f'SELECT count(*) FROM "{table}" WHERE position({needle} in {value}) > 0'),
                            {"form": form}).scalar()
                        if count:
                            hits.append(f"{service}.{table}.{column}: the {label} in clear "
                                        f"({count} rows)")
    finally:
        engine.dispose()
    return hits


def scan_sqlite(service: str, url: str) -> list[str]:
    """The database file and its WAL (and shared memory) as bytes: deleted rows too."""
    path = Path(url.removeprefix("sqlite:///"))
    files = sorted(path.parent.glob(path.name + "*"))
    assert files, f"{service}: no SQLite file at {path}"
    return [f"{service}: the {label} in clear in {file.name}"
            for file in files for label in found_in(file.read_bytes())]


def scan_databases(mall) -> list[str]:
    hits = []
    for service in SERVICES:
        url = mall.suite.env[f"MALL_{service.upper()}_DATABASE_URL"]
        hits += scan_sqlite(service, url) if url.startswith("sqlite") else scan_postgres(service, url)
    return hits


def scan_logs(mall) -> list[str]:
    logs = sorted((mall.tmp / "logs").glob("*.log"))
    assert logs, "the harness captured no process log"
    return [f"log {log.name}: the {label} in clear" for log in logs
            for label in found_in(log.read_bytes())]


def scan_dead_letters(mall) -> list[str]:
    """Every parked message, body and headers, read without taking it off its queue."""
    hits = []
    connection = pika.BlockingConnection(pika.URLParameters(mall.suite.env["MALL_AMQP_URL"]))
    try:
        channel = connection.channel()
        for service in SERVICES:
            queue = dead_letter_queue(service)
            channel.queue_declare(queue, durable=True)
            while True:
                method, props, body = channel.basic_get(queue, auto_ack=False)
                if method is None:
                    break
                parked = body + json.dumps(props.headers or {}, default=str).encode()
                hits += [f"dead letter in {queue}: the {label} in clear" for label in found_in(parked)]
    finally:
        connection.close()  # unacked: every message goes back to its queue
    return hits


def test_a_paid_order_leaves_no_personal_data_in_clear(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        sku_id = stocked_sku(mall, admin, word, 2)
        _, token = sign_in(anonymous, word)
        facts_before = event_count(admin, "order.paid")

    with mall.client(token) as shopper:
        saved = ok(shopper.post("/v1/me/addresses", json={**ADDRESS, "is_default": True}), 201)
        assert saved["address"]["phone"] == PHONE  # the shopper reads her own address back

        def placed():  # once order's read model has the product (from product.published)
            reply = shopper.post("/v1/orders", json={
                "lines": [{"sku_id": sku_id, "quantity": 1}], "shipping_address": ADDRESS},
                headers={"Idempotency-Key": uuid.uuid4().hex})
            return None if reply.status_code == 400 and "no product SKU" in reply.text \
                else ok(reply, 201)
        order = mall.wait_until(placed, timeout=30, what="order knowing the published product")
        order_id = order["order_id"]
        pay_with_wechat(mall, shopper, order)

        # every service settles the paid order
        (parcel,) = mall.wait_until(lambda: ok(shopper.get(
            "/v1/shipments", params={"order_id": order_id}))["shipments"], timeout=60,
            what="logistics planning the parcel from order.paid")
        assert parcel["order_id"] == order_id
        mall.wait_until(lambda: [e for e in ok(shopper.get("/v1/me/points"))["entries"]
                                 if e["kind"] == "earn" and e["ref"] == order_id],
                        timeout=30, what="member earning the order's points")
        mall.wait_until(lambda: [n for n in ok(shopper.get("/v1/me/notifications"))["notifications"]
                                 if n["order_id"] == order_id and n["kind_code"] == "order_paid"],
                        timeout=30, what="support writing the paid notice")
        # the address still reaches whoever needs it: the shopper, through order
        assert ok(shopper.get(f"/v1/orders/{order_id}"))["shipping_address"]["detail"] == STREET
    with mall.client(admin_token) as admin:
        mall.wait_until(lambda: event_count(admin, "order.paid") > facts_before, timeout=30,
                        what="analytics storing the order.paid fact")

    hits = scan_databases(mall) + scan_logs(mall) + scan_dead_letters(mall)
    assert hits == [], "personal data in clear:\n" + "\n".join(hits)
