"""coupon.template_created leaves through the outbox relay onto promotion.events."""
import json

import pika
from mall.promotion.v1 import promotion_pb2 as pb
from mall.promotion.v1 import promotion_pb2_grpc

from .test_api import OPERATOR, spec


def test_template_created_reaches_the_promotion_exchange(runtime, grpc_stub_for, relay_for,
                                                         amqp_url):
    stub = grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.exchange_declare("promotion.events", exchange_type="topic", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, "promotion.events", routing_key="coupon.template_created")
        relay_for("promotion")
        made = stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=spec()),
                                         metadata=OPERATOR)
        body = None
        for properties, body in ((p, b) for _, p, b in channel.consume(queue, inactivity_timeout=10)):  # noqa: B007
            break
        assert body is not None, "coupon.template_created was not published"
        envelope = json.loads(body)
        assert (envelope["type"], envelope["source"]) == ("coupon.template_created", "promotion")
        assert properties.message_id == envelope["id"]
        data = envelope["data"]
        assert (data["templateId"], data["kind"], data["amountFen"], data["thresholdFen"],
                data["scope"], data["productIds"], data["createdBy"]) == \
            (made.id, "fixed_amount", "3000", "19900", "products", ["p-1", "p-2"], "staff-1")
    finally:
        connection.close()
