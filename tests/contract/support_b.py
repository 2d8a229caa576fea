"""Shared helpers of the contract tests of payment, logistics, support and analytics: their
workers as real processes (one per test module), payment's provider stand-ins and order contract,
the carrier stand-in, and the checks every published envelope must pass.

Its fixtures reach the tests through tests/contract/conftest.py."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from contextlib import contextmanager
from datetime import datetime
from urllib.parse import quote_plus, urlencode

import grpc
import pytest
from google.protobuf import json_format

from servicekit import sealing, testing
from servicekit.errors import violations_from_trailers

SHOPPER = (("x-mall-user-id", "m-1"),)
OTHER_SHOPPER = (("x-mall-user-id", "m-2"),)


def staff(role: str, user: str = "staff-1") -> tuple:
    return (("x-mall-user-id", user), ("x-mall-roles", role))


def refused(call, *args, **kwargs) -> grpc.RpcError:
    """The error a call must end in (the test fails if it answers)."""
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)
    return err.value


def violations(err: grpc.RpcError) -> set[tuple[str, str]]:
    return {(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())}


def assert_refused_to_strangers(call, request, *, allowed_roles=()) -> None:
    """No caller: UNAUTHENTICATED; a caller without one of the staff roles: PERMISSION_DENIED."""
    assert refused(call, request).code() == grpc.StatusCode.UNAUTHENTICATED
    assert refused(call, request, metadata=SHOPPER).code() == grpc.StatusCode.PERMISSION_DENIED
    for role in {"analyst", "warehouse", "cs_agent", "operator"} - set(allowed_roles):
        assert refused(call, request, metadata=staff(role)).code() == \
            grpc.StatusCode.PERMISSION_DENIED, role


# --- what a service publishes ------------------------------------------------------------------

def published(runtime, event_type: str, message_type) -> list:
    """The events of one type a service wrote to its outbox, each envelope checked as every
    consumer reads it, parsed strictly into its proto (a field the proto does not have fails)."""
    found = []
    for envelope in testing.outbox_events(runtime, event_type):
        assert_envelope(envelope, runtime.name, event_type)
        # as the producer itself reads it: personal fields opened (it holds the events key)
        _, data = sealing.open_for(runtime.name, envelope, message_type.DESCRIPTOR)
        found.append(json_format.ParseDict(data, message_type()))
    return found


def assert_envelope(envelope: dict, source: str, event_type: str) -> None:
    assert set(envelope) - {"sealed"} == {"id", "type", "source", "occurred_at", "data"}
    assert (envelope["type"], envelope["source"]) == (event_type, source)
    assert envelope["id"] and isinstance(envelope["data"], dict)
    assert datetime.fromisoformat(envelope["occurred_at"]).utcoffset().total_seconds() == 0


def assert_relayed(received, source: str, event_type: str) -> dict:
    """What the relay put on RabbitMQ: the envelope with the AMQP properties consumers rely on."""
    method, properties, envelope, _ = received
    assert (method.exchange, method.routing_key) == (f"{source}.events", event_type)
    assert properties.content_type == "application/json" and properties.delivery_mode == 2
    assert properties.message_id == envelope["id"]
    assert_envelope(envelope, source, event_type)
    return envelope


# --- workers -----------------------------------------------------------------------------------

@contextmanager
def running_worker(name: str, extra_env: dict | None = None):
    """`name`'s worker as a real process on the test database and vhost, for a whole module (a
    start costs seconds); what earlier tests left on its queues is purged first."""
    testing.ensure_database(name)
    testing.purge_queues(testing.worker_queues(name))
    worker = testing.WorkerProcess(name, extra_env).start()
    try:
        yield worker
    finally:
        worker.stop()


def handled(runtime, event_id: str) -> bool:
    """The worker applied (or dropped as a duplicate) this event: its inbox row is there."""
    table = runtime.inbox_table
    with runtime.engine.connect() as conn:
        return conn.execute(table.select().where(table.c.event_id == event_id)).first() is not None


def deliver(runtime, source: str, event_type: str, message, **kwargs) -> dict:
    """Publishes an event as `source`'s relay would and waits until the worker handled it. A
    redelivery (`event_id=` of an earlier event) finds that event's inbox row at once: follow it
    with a fresh event on the same queue, whose handling shows the duplicate's turn has passed."""
    envelope = testing.publish_event(source, event_type, message, **kwargs)
    testing.wait_until(lambda: handled(runtime, envelope["id"]), timeout=15,
                       message=f"{runtime.name} handled {event_type}")
    return envelope


def parked(service_name: str, event_id: str) -> list[dict]:
    from servicekit.deadletters import list_parked
    return [p for p in list_parked(service_name) if p["event_id"] == event_id]


# --- payment's providers and the order it asks -------------------------------------------------

OPENID = "o-contract-shopper"


def with_key(key: str, who=SHOPPER) -> tuple:
    return (*who, ("idempotency-key", key))


@pytest.fixture(scope="module")
def payment_world():
    """Payment pointed at its provider stand-ins (fresh development keys), at a stand-in of
    OrderService.GetPayable, and its notifications handed to HandleNotification as the gateway
    does. Started the way payment's own tests start them (services/payment/testing.py, the one
    place that knows where the stand-ins live). Yields (providers, orders, relay, targets)."""
    from services.payment import testing as payment_testing

    targets: dict[str, str] = {}
    with payment_testing.payment_world(lambda: targets["payment"]) as (providers, orders, relay):
        yield providers, orders, relay, targets


@pytest.fixture
def payment_stub(payment_world, runtime_for, grpc_target_for):
    from mall.payment.v1 import payment_pb2_grpc

    from servicekit import grpc_client

    runtime_for("payment")
    payment_world[3]["payment"] = grpc_target_for("payment")
    return payment_pb2_grpc.PaymentServiceStub(grpc_client.channel("payment",
                                                                   target=payment_world[3]["payment"]))


@pytest.fixture
def payment_providers(payment_world):
    return payment_world[0]


@pytest.fixture
def payment_orders(payment_world):
    """The order stand-in, emptied: `.add(order_id, member_id, payable_fen, status)`."""
    payment_world[1].orders.clear()
    payment_world[1].calls = 0
    return payment_world[1]


@pytest.fixture
def payment_relay(payment_world):
    """What the gateway answered each provider's notification: `.answers`."""
    payment_world[2].answers.clear()
    return payment_world[2]


def paid_with_alipay(stub, orders, providers, order_id="o-1", amount=25900):
    """An order of m-1 paid through Alipay: the PaymentIntent, now succeeded."""
    from mall.payment.v1 import payment_pb2 as pb

    orders.add(order_id, "m-1", amount)
    opened = stub.CreatePayment(pb.CreatePaymentRequest(order_id=order_id, method="alipay"),
                                metadata=with_key(f"k-{order_id}"))
    # the shopper opens the order string in Alipay and pays; Alipay notifies (through the relay)
    answer = providers.alipay.handle("POST", "/standin/pay", "", {}, json.dumps(
        {"order_string": opened.alipay_order_string}).encode())
    assert json.loads(answer.body) == {"notified": 200}
    return stub.GetPaymentIntent(pb.GetPaymentIntentRequest(order_id=order_id), metadata=SHOPPER)


# --- the carrier -------------------------------------------------------------------------------

CARRIER_ACCOUNTS = {code: (f"CONTRACT{code}", f"contract-checkword-{code.lower()}")
                    for code in ("SF", "ZTO")}  # carrier code -> (partner id, checkword)


@contextmanager
def carrier_standin():
    """The carrier stand-in on a free port, its clock stopped and its pushes off (a test pushes
    what it wants through HandleCarrierNotification); every carrier of logistics pointed at it
    with the accounts of CARRIER_ACCOUNTS. Start logistics' worker after it (it reads them)."""
    from standins.carrier import CarrierStandin, RunningStandin

    settings = {}
    for code, (partner_id, checkword) in CARRIER_ACCOUNTS.items():
        settings[f"MALL_LOGISTICS_CARRIER_{code}_PARTNER_ID"] = partner_id
        settings[f"MALL_LOGISTICS_CARRIER_{code}_CHECKWORD"] = checkword
    with testing.environment(**settings):  # the accounts first: the stand-in reads them
        running = RunningStandin(CarrierStandin(step_seconds=3600, push=False))
        try:
            with testing.environment(**{f"MALL_LOGISTICS_CARRIER_{code}_URL": running.url
                                        for code in CARRIER_ACCOUNTS}):
                yield running
        finally:
            running.stop()


def fengqiao_route_push(carrier: str, waybill_no: str, op_code: str, accepted_at: str, *,
                        checkword: str | None = None, timestamp_ms: int | None = None) -> bytes:
    """A route push as SF's Fengqiao open platform signs it: a form whose msgDigest is
    Base64(MD5(urlencode(msgData + timestamp + checkWord))). Written from SF's documentation,
    not from logistics' code, so the test holds logistics to the carrier's protocol.
    `accepted_at` is the carrier's Beijing wall-clock time, "YYYY-MM-DD HH:MM:SS"."""
    partner_id, our_checkword = CARRIER_ACCOUNTS[carrier.upper()]
    checkword = our_checkword if checkword is None else checkword
    msg_data = json.dumps({"WaybillRoute": [{
        "id": f"{op_code}-{accepted_at}", "mailno": waybill_no, "opCode": op_code,
        "acceptTime": accepted_at, "acceptAddress": "深圳市", "remark": "快件已签收"}]},
        ensure_ascii=False, separators=(",", ":"))
    stamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    digest = base64.b64encode(hashlib.md5(  # noqa: S324 (SF's protocol)
        quote_plus(msg_data + stamp + checkword).encode()).digest()).decode()
    return urlencode({"partnerID": partner_id, "requestID": f"req-{stamp}",
                      "serviceCode": "EXP_RECE_ROUTE_PUSH", "timestamp": stamp,
                      "msgData": msg_data, "msgDigest": digest}).encode()


# --- logistics ---------------------------------------------------------------------------------

@contextmanager
def logistics_world():
    """The carrier stand-in, then logistics' worker: booking left to BookWaybills (its timer
    waits an hour), so a test decides when waybills are booked."""
    with carrier_standin() as carrier:
        with running_worker("logistics", {"MALL_LOGISTICS_BOOKING_INTERVAL_SECONDS": "3600"}) as worker:
            yield carrier, worker


def register_skus(logistics, product_id: str, sku_ids, *, version: int = 1,
                  event_type: str = "product.published", status: str = "published") -> dict:
    """Logistics learns the SKUs it may stock only from catalog's product events: publishes one
    and waits until logistics' worker handled it."""
    from mall.events.v1 import catalog_events_pb2 as catalog_events

    message = {"product.published": catalog_events.ProductPublished,
               "product.updated": catalog_events.ProductUpdated,
               "product.unpublished": catalog_events.ProductUnpublished}[event_type]
    product = catalog_events.CatalogProduct(
        product_id=product_id, title="云朵无钢圈文胸", status=status, version=version,
        skus=[catalog_events.CatalogSku(sku_id=s, code=s.upper(), size="75B", band=75, cup="B",
                                        colour="黑色", price_fen=19900, active=True)
              for s in sku_ids])
    return deliver(logistics, "catalog", event_type, message(product=product))
