"""The checkout's idempotency key is kept on the order it places (servicekit.idempotency
.create_once): a retry finds that order, and two concurrent calls with one key place one order."""
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from servicekit.errors import FailedPrecondition, InvalidArgument
from services.order import placement
from services.order.models import Order

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def begin(runtime, key, fingerprint="cart-1", member_id="m-1", hold=None):
    with runtime.transaction() as session:
        order, new = placement.begin(session, member_id=member_id, idempotency_key=key,
                                     fingerprint=fingerprint, channel="miniprogram", now=NOW)
        if hold is not None:
            hold.wait(10)  # the transaction stays open: a concurrent call must wait for it
        return order.id, new


def orders(runtime):
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(Order))


def test_a_retry_finds_the_order_and_another_cart_with_the_key_is_refused(runtime):
    first, new = begin(runtime, "k-1")
    assert new and begin(runtime, "k-1") == (first, False)
    with pytest.raises(FailedPrecondition) as err:
        begin(runtime, "k-1", fingerprint="cart-2")
    assert [(v.field, v.rule) for v in err.value.violations] == [("idempotency-key", "reused")]
    with pytest.raises(InvalidArgument):
        begin(runtime, "k 2")
    assert orders(runtime) == 1


def test_two_concurrent_checkouts_with_one_key_place_one_order(runtime):
    release, answers = threading.Event(), []
    first = threading.Thread(target=lambda: answers.append(begin(runtime, "k-race", hold=release)))
    first.start()
    second = threading.Thread(target=lambda: answers.append(begin(runtime, "k-race")))
    second.start()
    second.join(0.5)  # waits on the first one's key
    release.set()
    first.join(10)
    second.join(10)
    assert len(answers) == 2 and len({order_id for order_id, _ in answers}) == 1
    assert sorted(new for _, new in answers) == [False, True]
    assert orders(runtime) == 1
