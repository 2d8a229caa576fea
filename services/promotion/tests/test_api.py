"""Coupon template administration over gRPC: roles, violations, idempotency, pagination."""
from datetime import timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mall.common.v1 import common_pb2
from mall.promotion.v1 import promotion_pb2 as pb
from mall.promotion.v1 import promotion_pb2_grpc

from servicekit.errors import violations_from_trailers

from .helpers import NOW

OPERATOR = (("x-mall-user-id", "staff-1"), ("x-mall-roles", "operator"))


def stamp(moment):
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def spec(**overrides):
    values = dict(name="满199减30", kind=pb.FIXED_AMOUNT, amount_fen=3000, threshold_fen=19900,
                  per_member_limit=1, total_quantity=500, scope=pb.PRODUCTS,
                  product_ids=["p-1", "p-2"],
                  window=pb.ValidityWindow(valid_from=stamp(NOW),
                                           valid_until=stamp(NOW + timedelta(days=7))))
    values.update(overrides)
    return pb.CouponTemplateSpec(**values)


@pytest.fixture
def stub(runtime, grpc_stub_for):
    return grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)


def rpc_error(call, *args, **kwargs):
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)
    return err.value


def test_create_then_get_round_trips_the_spec(stub):
    made = stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=spec()), metadata=OPERATOR)
    assert made.id and made.created_by == "staff-1" and made.issued_count == 0
    assert made.spec == spec()
    assert stub.GetCouponTemplate(pb.GetCouponTemplateRequest(id=made.id), metadata=OPERATOR) == made
    days = stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=spec(
        kind=pb.PERCENTAGE, amount_fen=0, threshold_fen=0, percent_off=20, cap_fen=8000,
        valid_days_after_claim=14)), metadata=OPERATOR)
    assert days.spec.WhichOneof("validity") == "valid_days_after_claim"
    assert days.spec.valid_days_after_claim == 14


def test_only_operators_and_admins(stub):
    request = pb.CreateCouponTemplateRequest(spec=spec())
    assert rpc_error(stub.CreateCouponTemplate, request).code() == grpc.StatusCode.UNAUTHENTICATED
    for roles in ("analyst", "cs_agent,warehouse"):
        err = rpc_error(stub.CreateCouponTemplate, request,
                        metadata=(("x-mall-user-id", "staff-2"), ("x-mall-roles", roles)))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = (("x-mall-user-id", "staff-3"), ("x-mall-roles", "admin"))
    assert stub.CreateCouponTemplate(request, metadata=admin).id


def test_invalid_spec_comes_back_with_every_field_violation(stub):
    bad = spec(threshold_fen=100, kind=pb.FIXED_AMOUNT, product_ids=[],
               window=pb.ValidityWindow(valid_from=stamp(NOW), valid_until=stamp(NOW)))
    err = rpc_error(stub.CreateCouponTemplate, pb.CreateCouponTemplateRequest(spec=bad),
                    metadata=OPERATOR)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())} == {
        ("spec.threshold_fen", "at_least_amount"), ("spec.product_ids", "required"),
        ("spec.window.valid_until", "after_start")}
    err = rpc_error(stub.CreateCouponTemplate, pb.CreateCouponTemplateRequest(
        spec=spec(kind=pb.COUPON_KIND_UNSPECIFIED)), metadata=OPERATOR)
    assert [v.field for v in violations_from_trailers(err.trailing_metadata())] == ["spec.kind"]


def test_retried_create_with_the_same_idempotency_key_returns_the_same_template(stub):
    keyed = OPERATOR + (("idempotency-key", "create-coupon-42"),)
    request = pb.CreateCouponTemplateRequest(spec=spec())
    first = stub.CreateCouponTemplate(request, metadata=keyed)
    assert stub.CreateCouponTemplate(request, metadata=keyed).id == first.id
    err = rpc_error(stub.CreateCouponTemplate,
                    pb.CreateCouponTemplateRequest(spec=spec(name="别的券")), metadata=keyed)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_list_pages_newest_first_and_refuses_a_forged_token(stub):
    ids = [stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=spec(name=f"券{i}")),
                                     metadata=OPERATOR).id for i in range(5)]
    seen, token = [], ""
    while True:
        page = stub.ListCouponTemplates(pb.ListCouponTemplatesRequest(
            page=common_pb2.PageRequest(page_size=2, page_token=token)), metadata=OPERATOR)
        seen += [t.id for t in page.templates]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids))
    err = rpc_error(stub.ListCouponTemplates, pb.ListCouponTemplatesRequest(
        page=common_pb2.PageRequest(page_token="eyJrIjpbMV19.forged")), metadata=OPERATOR)
    assert [v.field for v in violations_from_trailers(err.trailing_metadata())] == \
        ["page.page_token"]
    err = rpc_error(stub.ListCouponTemplates, pb.ListCouponTemplatesRequest(
        page=common_pb2.PageRequest(page_size=101)), metadata=OPERATOR)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_get_unknown_template_is_not_found(stub):
    err = rpc_error(stub.GetCouponTemplate, pb.GetCouponTemplateRequest(id="12345"), metadata=OPERATOR)
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_coupons_are_issued_only_to_members_that_exist(stub, members, monkeypatch):
    """promotion-api asks member (MembersExist) before writing: an id that is no member, or a
    deleted one, refuses the whole list, naming each; member away: UNAVAILABLE, nothing issued."""
    alive = members("5f0c1a52-7d0e-4c1b-9d5e-3a1f2b3c4d5e", "6a1d2b63-8e1f-4d2c-8e6f-4b2a3c4d5e6f")
    (gone,) = members("7b2e3c74-9f20-4e3d-9f70-5c3b4d5e6f70", deleted=True)
    made = stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(
        spec=spec(scope=pb.ALL, product_ids=[])), metadata=OPERATOR)

    def issue(member_ids):
        return stub.IssueCoupons(pb.IssueCouponsRequest(template_id=made.id, member_ids=member_ids),
                                 metadata=OPERATOR)
    err = rpc_error(issue, [alive[0], "00000000-0000-4000-8000-00000000dead", gone])
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())] == [
        ("member_ids[1]", "unknown"), ("member_ids[2]", "unknown")]
    got = stub.GetCouponTemplate(pb.GetCouponTemplateRequest(id=made.id), metadata=OPERATOR)
    assert got.issued_count == 0  # not even the member that exists
    assert [c.member_id for c in issue(alive).coupons] == alive  # known ids still work
    monkeypatch.setenv("MALL_MEMBER_GRPC_TARGET", "127.0.0.1:9")  # member away
    assert rpc_error(issue, ["8c3f4d85-a031-4f4e-a081-6d4c5e6f7081"]).code() == \
        grpc.StatusCode.UNAVAILABLE
    got = stub.GetCouponTemplate(pb.GetCouponTemplateRequest(id=made.id), metadata=OPERATOR)
    assert got.issued_count == 2
