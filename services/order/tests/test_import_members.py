"""Imported customers matched to members by phone through member's real FindMembersByPhones
(one call per batch; the number is looked up by its keyed hash), and an import that goes on
unmatched while member is down."""
from __future__ import annotations

from sqlalchemy import select

from servicekit.testing import outbox_events
from services.member.testing import add_members

from ..importing import jobs
from ..importing.members import MemberMatcher
from ..models import Order
from .import_helpers import accepted, csv_bytes, line, seed_skus


def members_of_orders(runtime, job_id: str) -> dict[str, str]:
    with runtime.transaction() as session:
        return dict(session.execute(select(Order.order_no, Order.member_id)
                                    .where(Order.import_batch_id == job_id)).all())


def test_customers_are_matched_by_phone_in_one_lookup_per_batch(runtime, runtime_for,
                                                                grpc_target_for, monkeypatch,
                                                                tmp_path):
    monkeypatch.setenv("MALL_ORDER_IMPORT_SPOOL_DIR", str(tmp_path))
    seed_skus(runtime)
    member = runtime_for("member")
    (known,) = add_members(member, ["13800138000"])
    add_members(member, ["13900139000"], deleted=True)  # a deleted member is nobody to match
    data = csv_bytes([line("M-1", phone="+86 138-0013-8000"), line("M-2", phone="13900139000"),
                      line("M-3", phone="13700137000"), line("M-4", phone="138 0013 8000")])
    job, path = accepted(runtime, data)
    done = jobs.run(runtime, job.id, path, find_members=MemberMatcher(grpc_target_for("member")))
    assert done.orders_imported == 4
    (event,) = outbox_events(runtime, "order.imported_batch")
    by_external = {o["externalId"]: o["memberId"] for o in event["data"]["orders"]}
    assert by_external == {"M-1": known, "M-2": "", "M-3": "", "M-4": known}
    assert sorted(members_of_orders(runtime, job.id).values()) == ["", "", known, known]


def test_an_import_goes_on_unmatched_while_member_is_down(runtime, monkeypatch, tmp_path):
    monkeypatch.setenv("MALL_ORDER_IMPORT_SPOOL_DIR", str(tmp_path))
    seed_skus(runtime)
    job, path = accepted(runtime, csv_bytes([line("D-1"), line("D-2")]))
    matcher = MemberMatcher("127.0.0.1:1", timeout=1.0)
    done = jobs.run(runtime, job.id, path, find_members=matcher)
    assert (done.status, done.orders_imported) == ("done", 2)
    assert set(members_of_orders(runtime, job.id).values()) == {""}
    assert matcher(["13800138000"]) == {}  # paused: no call until the pause is over
