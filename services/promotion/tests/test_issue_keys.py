"""Staff issuing coupons to a list of members under an idempotency key (servicekit.idempotency):
any key of the kit's rule works, a retry issues nothing new, and the key used for another
template is refused."""
import pytest

from servicekit.errors import FailedPrecondition, InvalidArgument
from services.promotion import coupons

from .helpers import everyone
from .test_coupon_lifecycle import issued_count, template

STAFF = "00000000-0000-4000-8000-000000000001"
MEMBERS = ["5f0c1a52-7d0e-4c1b-9d5e-3a1f2b3c4d5e", "6a1d2b63-8e1f-4d2c-8e6f-4b2a3c4d5e6f"]


def issue(runtime, made, key, members=MEMBERS):
    with runtime.transaction() as session:
        return [c.id for c in coupons.issue_to_members(session, runtime, made, members,
                                                       staff_id=STAFF, existing=everyone,
                                                       idempotency_key=key)]


def test_a_key_of_128_characters_issues_once(runtime):
    made = template(runtime, per_member_limit=2, total_quantity=10, claimable=False)
    key = "segment-2026-12-04-" + "x" * 109  # 128 characters
    first = issue(runtime, made, key)
    assert issue(runtime, made, key) == first
    assert issued_count(runtime, made) == 2
    with pytest.raises(InvalidArgument):
        issue(runtime, made, key + "x")


def test_the_key_used_for_another_template_is_refused(runtime):
    made = template(runtime, per_member_limit=2, total_quantity=10, claimable=False)
    other = template(runtime, per_member_limit=2, total_quantity=10, claimable=False)
    issue(runtime, made, "seg-1")
    with pytest.raises(FailedPrecondition) as err:
        issue(runtime, other, "seg-1")
    assert [(v.field, v.rule) for v in err.value.violations] == [("idempotency-key", "reused")]
    assert issued_count(runtime, other) == 0
