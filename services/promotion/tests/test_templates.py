"""Coupon template rules: each kind's values, validity, limits, scope, idempotent creation."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.promotion import templates
from services.promotion.models import CouponTemplate

from .helpers import NOW, fixed_spec


def create(runtime, spec, key=""):
    with runtime.transaction() as session:
        return templates.create(session, runtime, spec, created_by="staff-1", idempotency_key=key)


def violations(runtime, spec):
    with pytest.raises(InvalidArgument) as err:
        create(runtime, spec)
    return {(v.field, v.rule) for v in err.value.violations}


def stored(runtime):
    with runtime.transaction() as session:
        return session.scalars(select(CouponTemplate)).all()


def outbox(runtime):
    """The events, without coupon.template_changed (test_edits.py checks it)."""
    with runtime.transaction() as session:
        return [e for e in (json.loads(r.body) for r in session.execute(select(runtime.outbox_table)))
                if e["type"] != "coupon.template_changed"]


def test_each_kind_is_created_and_announced(runtime):
    fixed = create(runtime, fixed_spec())
    percent = create(runtime, fixed_spec(name="全场85折", kind="percentage", amount_fen=0,
                                         threshold_fen=0, percent_off=15, cap_fen=5000,
                                         valid_from=None, valid_until=None,
                                         valid_days_after_claim=7))
    free = create(runtime, fixed_spec(name="无门槛10元", kind="no_threshold", amount_fen=1000,
                                      threshold_fen=0, scope="categories",
                                      category_ids=("cat-bras",)))
    assert [t.kind for t in stored(runtime)] == ["fixed_amount", "percentage", "no_threshold"]
    events = outbox(runtime)
    assert [e["type"] for e in events] == ["coupon.template_created"] * 3
    assert [e["data"]["templateId"] for e in events] == [str(t.id) for t in (fixed, percent, free)]
    assert events[0]["data"]["validUntil"].endswith("Z") and events[1]["data"]["validFrom"] == ""
    assert events[1]["data"]["validDaysAfterClaim"] == 7
    assert events[2]["data"]["categoryIds"] == ["cat-bras"]


def test_a_window_that_ends_before_it_starts_is_refused(runtime):
    assert violations(runtime, fixed_spec(valid_until=NOW - timedelta(hours=1))) == \
        {("spec.window.valid_until", "after_start")}


def test_a_window_already_over_is_refused(runtime):
    assert violations(runtime, fixed_spec(valid_from=NOW - timedelta(days=9),
                                          valid_until=NOW - timedelta(days=2))) == \
        {("spec.window.valid_until", "future")}


def test_validity_is_a_window_or_days_never_both_nor_neither(runtime):
    assert violations(runtime, fixed_spec(valid_days_after_claim=7)) == \
        {("spec.validity", "exactly_one")}
    assert violations(runtime, fixed_spec(valid_from=None, valid_until=None)) == \
        {("spec.validity", "exactly_one")}
    assert violations(runtime, fixed_spec(valid_from=None, valid_until=None,
                                          valid_days_after_claim=0)) == \
        {("spec.valid_days_after_claim", "range")}


@pytest.mark.parametrize("percent", [0, 100, -5])
def test_a_percentage_outside_1_to_99_is_refused(runtime, percent):
    spec = fixed_spec(kind="percentage", amount_fen=0, threshold_fen=0, percent_off=percent,
                      cap_fen=5000)
    assert violations(runtime, spec) == {("spec.percent_off", "range")}


def test_a_cap_or_amount_of_zero_or_less_is_refused(runtime):
    assert violations(runtime, fixed_spec(kind="percentage", amount_fen=0, threshold_fen=0,
                                          percent_off=10, cap_fen=0)) == {("spec.cap_fen", "positive")}
    assert violations(runtime, fixed_spec(amount_fen=0)) == {("spec.amount_fen", "positive")}
    assert violations(runtime, fixed_spec(kind="no_threshold", amount_fen=-100, threshold_fen=0)) \
        == {("spec.amount_fen", "positive")}


def test_a_fixed_coupon_threshold_below_its_amount_is_refused(runtime):
    assert violations(runtime, fixed_spec(amount_fen=3000, threshold_fen=2999)) == \
        {("spec.threshold_fen", "at_least_amount")}
    create(runtime, fixed_spec(amount_fen=3000, threshold_fen=3000))  # equal is allowed


def test_fields_of_another_kind_are_refused_rather_than_ignored(runtime):
    assert violations(runtime, fixed_spec(percent_off=10, cap_fen=100)) == \
        {("spec.percent_off", "unused"), ("spec.cap_fen", "unused")}
    assert violations(runtime, fixed_spec(kind="no_threshold", threshold_fen=100)) == \
        {("spec.threshold_fen", "unused")}


def test_limits_and_scope(runtime):
    assert violations(runtime, fixed_spec(per_member_limit=0, total_quantity=0)) == \
        {("spec.per_member_limit", "positive"), ("spec.total_quantity", "range")}
    assert violations(runtime, fixed_spec(per_member_limit=5, total_quantity=3)) == \
        {("spec.per_member_limit", "within_total")}
    assert violations(runtime, fixed_spec(scope="products")) == {("spec.product_ids", "required")}
    assert violations(runtime, fixed_spec(scope="all", category_ids=("c-1",))) == \
        {("spec.category_ids", "unused")}
    assert violations(runtime, fixed_spec(scope="categories", category_ids=("c-1", "c-1"))) == \
        {("spec.category_ids", "distinct")}


def test_every_problem_is_reported_at_once_and_nothing_is_written(runtime):
    spec = fixed_spec(name=" ", kind="percentage", amount_fen=0, threshold_fen=0, percent_off=120,
                      cap_fen=-1, valid_until=NOW - timedelta(days=1), scope="galaxy")
    assert violations(runtime, spec) == {
        ("spec.name", "required"), ("spec.percent_off", "range"), ("spec.cap_fen", "positive"),
        ("spec.window.valid_until", "after_start"), ("spec.scope", "one_of")}
    assert stored(runtime) == [] and outbox(runtime) == []


def test_a_retry_with_the_same_key_returns_the_same_template_once(runtime):
    first = create(runtime, fixed_spec(), key="k-1")
    again = create(runtime, fixed_spec(), key="k-1")
    assert again.id == first.id
    assert len(stored(runtime)) == 1 and len(outbox(runtime)) == 1
    with pytest.raises(FailedPrecondition) as err:
        create(runtime, fixed_spec(name="另一张券"), key="k-1")
    assert err.value.violations[0].field == "idempotency-key"
    create(runtime, fixed_spec(), key="k-2")
    assert len(stored(runtime)) == 2


def test_get_and_list_newest_first(runtime):
    made = [create(runtime, fixed_spec(name=f"券{i}")) for i in range(3)]
    with runtime.transaction() as session:
        assert templates.get(session, str(made[1].id)).name == "券1"
        for missing in ("999999", "abc", "9" * 40):
            with pytest.raises(NotFound):
                templates.get(session, missing)
        page = templates.list_page(session, 2, None)
        assert [t.name for t in page] == ["券2", "券1", "券0"]  # limit + 1 tells "more"
        assert [t.name for t in templates.list_page(session, 2, page[1].id)] == ["券0"]


def test_two_concurrent_creates_with_one_key_make_one_template(runtime):
    import threading
    barrier, results, errors = threading.Barrier(2), [], []

    def attempt():
        try:
            with runtime.transaction() as session:
                barrier.wait(5)
                results.append(templates.create(session, runtime, fixed_spec(),
                                                created_by="staff-1", idempotency_key="k-race").id)
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == [] and len(set(results)) == 1 and len(results) == 2
    assert len(stored(runtime)) == 1 and len(outbox(runtime)) == 1
