"""Times read back from SQLite (the `make run` default) are the moments that were stored, whatever
the machine's zone: a coupon ending at 12:00Z is announced as ending at 12:00Z, not 04:00Z."""
from datetime import datetime, timedelta, timezone

from servicekit.testing import outbox_events
from services.promotion import coupons, templates
from services.promotion.models import IssuedCoupon

from .helpers import fixed_spec

NOON = (datetime.now(timezone.utc) + timedelta(days=2)).replace(hour=12, minute=0, second=0,
                                                                 microsecond=0)


def test_an_expiring_coupon_is_announced_with_the_end_it_has(sqlite_runtime_for, machine_in_shanghai):
    runtime = sqlite_runtime_for("promotion")
    spec = fixed_spec(valid_from=NOON - timedelta(days=10), valid_until=NOON + timedelta(days=30),
                      claimable=True)
    with runtime.transaction() as session:
        made = templates.create(session, runtime, spec, created_by="staff-1")
    with runtime.transaction() as session:
        coupon = coupons.claim(session, runtime, "m-1", str(made.id))
        coupon.valid_until = NOON
    with runtime.transaction() as session:
        assert coupons.remind_expiring(session, runtime, NOON - timedelta(days=1)) == 1
    [reminder] = [e["data"] for e in outbox_events(runtime, "coupon.expiring")]
    assert reminder["validUntil"] == NOON.strftime("%Y-%m-%dT12:00:00Z")
    with runtime.transaction() as session:  # read back aware, as PostgreSQL gives it
        assert session.get(IssuedCoupon, coupon.id).valid_until == NOON
