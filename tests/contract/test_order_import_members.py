"""Imported customers matched to members by phone through member's real FindMembersByPhones
(one lookup per batch; a number matches however it is written), and an import that goes on
unmatched while member is down: order's import process and member, each through its gRPC API."""
from __future__ import annotations

from mall.events.v1 import order_events_pb2 as order_events
from mall.member.v1 import member_pb2_grpc, profile_pb2, profile_pb2_grpc
from mall.order.v1 import order_pb2, order_pb2_grpc
from support_a import IMPORT_STAFF, announced, import_header, import_row, imported, sign_in
from support_a import importer as importer  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)

from servicekit import service


def member_with_phone(grpc_stub_for, phone: str, *, deleted: bool = False) -> str:
    member_id, me = sign_in(grpc_stub_for("member", member_pb2_grpc.AuthServiceStub))
    profiles = grpc_stub_for("member", profile_pb2_grpc.ProfileServiceStub)
    profiles.UpdateProfile(profile_pb2.UpdateProfileRequest(phone=phone), metadata=me)
    if deleted:
        profiles.DeleteMyAccount(profile_pb2.DeleteMyAccountRequest(confirm=True), metadata=me)
    return member_id


def members_of_orders(grpc_stub_for, job_id: str) -> list[str]:
    desk = grpc_stub_for("order", order_pb2_grpc.OrderDeskServiceStub)
    listed = desk.ListOrders(order_pb2.ListOrdersRequest(
        filter=order_pb2.OrderFilter(import_batch_id=job_id)), metadata=IMPORT_STAFF)
    return sorted(o.member_id for o in listed.orders)


def lookups() -> float:
    """FindMembersByPhones calls member's server (in this process) has answered."""
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value("mall_rpc_requests_total", {
        "service": "member", "method": "FindMembersByPhones", "code": "OK"}) or 0.0


def test_customers_are_matched_by_phone_in_one_lookup_per_batch(wechat, importer, grpc_stub_for,
                                                                grpc_target_for):
    known = member_with_phone(grpc_stub_for, "13800138000")
    member_with_phone(grpc_stub_for, "13900139000", deleted=True)  # nobody to match
    stub = importer(grpc_target_for("member"))
    header = import_header(stub)
    before = lookups()
    job = imported(stub, header, [import_row(header, "M-1", phone="+86 138-0013-8000"),
                                  import_row(header, "M-2", phone="13900139000"),
                                  import_row(header, "M-3", phone="13700137000"),
                                  import_row(header, "M-4", phone="138 0013 8000")])
    assert (job.status, job.counts.orders_imported) == ("done", 4)
    assert lookups() == before + 1
    (batch,) = announced(service.runtime("order"), "order.imported_batch",
                         order_events.OrdersImported)
    assert batch.batch_id == job.job_id
    assert {o.external_id: o.member_id for o in batch.orders} == {
        "M-1": known, "M-2": "", "M-3": "", "M-4": known}
    assert members_of_orders(grpc_stub_for, job.job_id) == ["", "", known, known]


def test_an_import_goes_on_unmatched_while_member_is_down(importer, grpc_stub_for):
    stub = importer("127.0.0.1:1")
    header = import_header(stub)
    job = imported(stub, header, [import_row(header, "D-1"), import_row(header, "D-2")])
    assert (job.status, job.counts.orders_imported) == ("done", 2)
    assert members_of_orders(grpc_stub_for, job.job_id) == ["", ""]
