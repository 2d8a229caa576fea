"""order.paid folds into the member's shopping habits: once per event, in any order."""
import time
import uuid

from mall.events.v1 import order_events_pb2
from mall.member.v1 import member_pb2
from sqlalchemy import select

from servicekit.testing import check_lock_order
from servicekit.times import rfc3339
from services.member.models import ShoppingHabits
from services.member.profile import habits

from .helpers import as_user


def paid(member_id, fen, at, order="o-1"):
    return order_events_pb2.OrderPaid(order_id=order, order_no=f"NO-{order}", member_id=member_id,
                                      paid_fen=fen, paid_at=at)


def habits_of(runtime, member_id):
    with runtime.transaction() as s:
        return s.get(ShoppingHabits, member_id)


def test_paid_orders_add_up_whatever_order_they_arrive_in(member_runtime):
    with member_runtime.transaction() as s:
        habits.record_paid_order(s, paid("m-1", 12_900, "2026-03-08T12:00:00Z", "o-2"))
        habits.record_paid_order(s, paid("m-1", 9_900, "2026-03-01T08:00:00Z", "o-1"))
        habits.record_paid_order(s, paid("m-1", 5_000, "2026-03-05T09:30:00+08:00", "o-3"))
    h = habits_of(member_runtime, "m-1")
    assert (h.orders_count, h.total_paid_fen, h.average_order_fen) == (3, 27_800, 9_267)
    assert h.last_order_at.isoformat().startswith("2026-03-08T12:00:00")


def test_an_event_without_a_member_changes_nothing(member_runtime):
    with member_runtime.transaction() as s:
        assert habits.record_paid_order(s, paid("", 100, "2026-03-01T08:00:00Z")) is None
        assert s.scalars(select(ShoppingHabits)).all() == []


def test_the_worker_counts_each_paid_order_once(auth, worker_process, publish_event,
                                                wait_until, member_runtime):
    login = auth.WechatLogin(member_pb2.WechatLoginRequest(code="lou~1"))
    worker_process("member")
    first = paid(login.member_id, 19_900, "2026-05-20T12:00:00Z", "o-10")
    event_id = str(uuid.uuid4())
    publish_event("order", "order.paid", first, event_id=event_id)
    publish_event("order", "order.paid", first, event_id=event_id)  # a redelivery
    publish_event("order", "order.paid", paid(login.member_id, 10_000, "2026-05-21T00:00:00Z",
                                              "o-11"))
    wait_until(lambda: (h := habits_of(member_runtime, login.member_id)) and
               h.orders_count == 2, timeout=20, message="both orders counted")
    with member_runtime.transaction() as s:
        inbox_table = member_runtime.inbox_table
        inbox = s.execute(select(inbox_table.c.event_id).where(
            inbox_table.c.handler == "member.order_paid")).scalars().all()
    assert inbox.count(event_id) == 1
    me = auth.GetMe(member_pb2.GetMeRequest(), metadata=as_user(login.member_id))
    assert me.customer.habits.orders_count == 2
    assert me.customer.habits.total_paid_fen == 29_900
    assert me.customer.habits.average_order_fen == 14_950
    assert me.customer.habits.last_order_at == "2026-05-21T00:00:00Z"
    time.sleep(1)  # the worker handles concurrently: give a wrongly counted duplicate its chance
    assert habits_of(member_runtime, login.member_id).orders_count == 2


def test_member_registered_reaches_the_member_exchange(auth, relay_for, listen_for):
    registered = listen_for("member", "member.registered")
    relay_for("member")
    login = auth.WechatLogin(member_pb2.WechatLoginRequest(code="max~1"))
    received = registered.next()
    envelope = received.envelope
    assert envelope["type"] == "member.registered" and envelope["source"] == "member"
    assert envelope["data"]["memberId"] == login.member_id
    assert received.properties.message_id == envelope["id"]


def test_an_unreadable_paid_at_falls_back_to_the_event_time(member_runtime):
    from datetime import datetime, timezone
    occurred = datetime(2026, 6, 1, 4, 0, tzinfo=timezone.utc)
    with member_runtime.transaction() as s:
        habits.record_paid_order(s, paid("m-2", 100, "yesterday"), occurred)
    h = habits_of(member_runtime, "m-2")
    # SQLite hands back naive UTC datetimes: compare the contract's form.
    assert h.orders_count == 1 and rfc3339(h.last_order_at) == "2026-06-01T04:00:00Z"


def test_favourite_categories_count_units_and_skip_gifts(member_runtime):
    def line(quantity, *categories, gift=False):
        return order_events_pb2.OrderEventLine(quantity=quantity, category_ids=list(categories),
                                               gift=gift)
    order = paid("m-3", 30_000, "2026-03-01T08:00:00Z")
    order.lines.extend([line(1, "bra", "wireless"), line(3, "briefs"), line(5, "socks", gift=True)])
    second = paid("m-3", 9_000, "2026-03-02T08:00:00Z", "o-2")
    second.lines.extend([line(2, "bra")])
    with member_runtime.transaction() as s:
        habits.record_paid_order(s, order)
        habits.record_paid_order(s, second)
    assert habits.favourite_categories(habits_of(member_runtime, "m-3")) == ["bra", "briefs",
                                                                              "wireless"]


def imported(member_id, fen, at, order="io-1"):
    line = order_events_pb2.OrderEventLine(sku_id="s-1", quantity=2, category_ids=["bras"])
    return order_events_pb2.OrderImported(order_id=order, member_id=member_id, payable_fen=fen,
                                          ordered_at=at, channel="import:tmall", batch_id="b-1",
                                          status="completed", lines=[line])


def test_an_imported_order_folds_into_habits_like_a_paid_one(member_runtime):
    with member_runtime.transaction() as s:
        habits.record_paid_order(s, paid("m-2", 10_000, "2026-03-01T08:00:00Z", "o-1"))
        habits.record_imported_order(s, imported("m-2", 5_001, "2026-04-01T08:00:00Z"))
        assert habits.record_imported_order(s, imported("", 9_999, "2026-04-02T08:00:00Z")) is None
    h = habits_of(member_runtime, "m-2")
    assert (h.orders_count, h.total_paid_fen, h.average_order_fen) == (2, 15_001, 7_501)
    assert h.last_order_at.isoformat().startswith("2026-04-01T08:00:00")
    assert habits.favourite_categories(h) == ["bras"]


def test_the_worker_counts_an_imported_order_once(auth, worker_process, publish_event,
                                                  wait_until, member_runtime):
    login = auth.WechatLogin(member_pb2.WechatLoginRequest(code="imp~1"))
    worker_process("member")
    event_id = str(uuid.uuid4())
    first = imported(login.member_id, 8_800, "2026-05-20T12:00:00Z")
    publish_event("order", "order.imported", first, event_id=event_id)
    publish_event("order", "order.imported", first, event_id=event_id)  # a redelivery
    publish_event("order", "order.imported", imported("", 1_000, "2026-05-21T00:00:00Z", "io-2"))
    wait_until(lambda: (h := habits_of(member_runtime, login.member_id)) and
               h.orders_count == 1, timeout=20, message="the imported order counted")
    time.sleep(1)  # the worker handles concurrently: give a wrongly counted duplicate its chance
    h = habits_of(member_runtime, login.member_id)
    assert (h.orders_count, h.total_paid_fen) == (1, 8_800)
    assert h.category_units == {"bras": 2}


def imported_batch(*orders):
    return order_events_pb2.OrdersImported(batch_id="b-1", partner="tmall", orders=list(orders))


def test_each_order_of_an_imported_batch_folds_in_like_a_single_import(member_runtime):
    batch = imported_batch(imported("m-5", 5_000, "2026-04-01T08:00:00Z", "io-1"),
                           imported("", 9_999, "2026-04-02T08:00:00Z", "io-2"),
                           imported("m-4", 7_000, "2026-04-03T08:00:00Z", "io-3"),
                           imported("m-5", 2_001, "2026-04-04T08:00:00Z", "io-4"))
    with member_runtime.transaction() as s:
        assert habits.record_imported_orders(s, batch) == 3  # the one without a member skipped
    five, four = habits_of(member_runtime, "m-5"), habits_of(member_runtime, "m-4")
    assert (five.orders_count, five.total_paid_fen, five.average_order_fen) == (2, 7_001, 3_501)
    assert five.last_order_at.isoformat().startswith("2026-04-04T08:00:00")
    assert five.category_units == {"bras": 4}
    assert (four.orders_count, four.total_paid_fen, four.category_units) == (1, 7_000, {"bras": 2})
    with member_runtime.transaction() as s:
        assert len(s.scalars(select(ShoppingHabits)).all()) == 2


def test_batches_lock_their_members_habits_in_one_order(member_runtime):
    """A batch folds its orders in member id order: holding m-a, another transaction can still
    take m-b while the batch waits for m-a (in batch order it would hold m-b: a deadlock)."""
    with member_runtime.transaction() as s:
        habits.record_imported_order(s, imported("m-a", 100, "2026-04-01T08:00:00Z", "io-0"))
        habits.record_imported_order(s, imported("m-b", 100, "2026-04-01T08:00:00Z", "io-0"))
    batch = imported_batch(imported("m-b", 1_000, "2026-04-02T08:00:00Z", "io-1"),
                           imported("m-a", 2_000, "2026-04-02T08:00:00Z", "io-2"))

    def fold():
        with member_runtime.transaction() as s:
            habits.record_imported_orders(s, batch)
    check_lock_order(member_runtime,
                     hold=lambda s: s.get(ShoppingHabits, "m-a", with_for_update=True), work=fold,
                     then_take=lambda s: s.get(ShoppingHabits, "m-b", with_for_update=True))
    assert [habits_of(member_runtime, m).total_paid_fen for m in ("m-a", "m-b")] == [2_100, 1_100]


def test_the_worker_folds_each_order_of_an_imported_batch_once(auth, worker_process,
                                                              publish_event, wait_until,
                                                              member_runtime):
    first = auth.WechatLogin(member_pb2.WechatLoginRequest(code="bea~1")).member_id
    second = auth.WechatLogin(member_pb2.WechatLoginRequest(code="cai~1")).member_id
    worker_process("member")
    batch = imported_batch(imported(first, 8_800, "2026-05-20T12:00:00Z", "io-1"),
                           imported("", 1_000, "2026-05-20T13:00:00Z", "io-2"),
                           imported(second, 6_600, "2026-05-21T00:00:00Z", "io-3"))
    event_id = str(uuid.uuid4())
    publish_event("order", "order.imported_batch", batch, event_id=event_id)
    publish_event("order", "order.imported_batch", batch, event_id=event_id)  # a redelivery
    wait_until(lambda: all((h := habits_of(member_runtime, m)) and h.orders_count == 1
                           for m in (first, second)), timeout=20, message="both members' orders")
    time.sleep(1)  # the worker handles concurrently: give a wrongly counted duplicate its chance
    assert [(h.orders_count, h.total_paid_fen, h.category_units)
            for h in (habits_of(member_runtime, first), habits_of(member_runtime, second))] == [
        (1, 8_800, {"bras": 2}), (1, 6_600, {"bras": 2})]
    with member_runtime.transaction() as s:
        assert len(s.scalars(select(ShoppingHabits)).all()) == 2  # none for the unmatched order
        inbox_table = member_runtime.inbox_table
        assert s.execute(select(inbox_table.c.event_id).where(
            inbox_table.c.handler == "member.orders_imported")).scalars().all() == [event_id]
