"""coupon.template_created leaves through the outbox relay onto promotion.events."""

from mall.promotion.v1 import promotion_pb2 as pb
from mall.promotion.v1 import promotion_pb2_grpc

from .test_api import OPERATOR, spec


def test_template_created_reaches_the_promotion_exchange(runtime, grpc_stub_for, relay_for, listen_for):
    stub = grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)
    created = listen_for("promotion", "coupon.template_created")
    relay_for("promotion")
    made = stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=spec()), metadata=OPERATOR)
    received = created.next()
    envelope = received.envelope
    assert (envelope["type"], envelope["source"]) == ("coupon.template_created", "promotion")
    assert received.properties.message_id == envelope["id"]
    data = envelope["data"]
    assert (data["templateId"], data["kind"], data["amountFen"], data["thresholdFen"],
            data["scope"], data["productIds"], data["createdBy"]) == \
        (made.id, "fixed_amount", "3000", "19900", "products", ["p-1", "p-2"], "staff-1")
