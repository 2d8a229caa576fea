"""declare_subscriber_queues: the queues of every service's handler of an event, declared as their
workers would, so a publish is routed (benchmarks run relays without the consuming workers)."""
import os

import pika
import pika.exceptions
import pytest

from servicekit.testing import declare_subscriber_queues, publish_event, purge_queues


def message_counts(queues):
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["MALL_AMQP_URL"]))
    try:
        channel = connection.channel()
        return {q: channel.queue_declare(q, passive=True).method.message_count for q in queues}
    finally:
        connection.close()


def test_each_subscriber_of_order_imported_gets_its_queue_and_a_publish_reaches_all(amqp_url):
    queues = declare_subscriber_queues("order", "order.imported")
    assert sorted(queues) == sorted(f"evt-order-order.imported--{s}.order_imported"
                                    for s in ("analytics", "logistics", "member"))
    purge_queues(queues)
    publish_event("order", "order.imported", {"orderId": "o-1"})  # mandatory: refused if unrouted
    assert message_counts(queues) == {q: 1 for q in queues}
    assert declare_subscriber_queues("order", "order.imported") == queues  # declaring again is harmless
    purge_queues(queues)


def test_an_event_nobody_handles_declares_nothing_and_stays_unroutable(amqp_url):
    assert declare_subscriber_queues("order", "order.nobody-listens") == []
    with pytest.raises(pika.exceptions.UnroutableError):
        publish_event("order", "order.nobody-listens", {})
