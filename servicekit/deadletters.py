"""`python -m servicekit deadletters <service> list|replay`: look at parked events, and put them
back on the queue of the handler that failed (other handlers of the same event are not bothered;
the inbox makes a replay of an already-applied event harmless)."""
from __future__ import annotations

import json

import pika

from .config import Settings
from .worker import dead_letter_queue


def _channel(name: str):
    connection = pika.BlockingConnection(pika.URLParameters(Settings.load(name).amqp_url))
    channel = connection.channel()
    channel.queue_declare(dead_letter_queue(name), durable=True)
    return connection, channel


def list_parked(name: str) -> list[dict]:
    """Reads every parked message without removing it (they are requeued when the channel closes)."""
    connection, channel = _channel(name)
    parked = []
    try:
        while True:
            method, props, body = channel.basic_get(dead_letter_queue(name), auto_ack=False)
            if method is None:
                break
            headers = props.headers or {}
            try:
                envelope = json.loads(body)
            except ValueError:
                envelope = {}
            parked.append({"event_id": envelope.get("id"), "type": envelope.get("type"),
                           "handler": headers.get("x-handler"), "error": headers.get("x-error"),
                           "at": headers.get("x-dead-lettered-at")})
    finally:
        connection.close()
    return parked


def replay(name: str, handler: str | None = None) -> int:
    """Republishes parked messages (optionally only `handler`'s) to their original queue."""
    connection, channel = _channel(name)
    channel.confirm_delivery()
    replayed = 0
    try:
        for _ in range(channel.queue_declare(dead_letter_queue(name), passive=True).method.message_count):
            method, props, body = channel.basic_get(dead_letter_queue(name), auto_ack=False)
            if method is None:
                break
            headers = dict(props.headers or {})
            if handler and headers.get("x-handler") != handler:
                continue  # left unacked: requeued when the channel closes
            target = headers.get("x-original-queue")
            for key in [k for k in headers if k.startswith("x-")]:
                headers.pop(key)
            channel.basic_publish("", target, body, pika.BasicProperties(
                content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                headers=headers), mandatory=True)
            channel.basic_ack(method.delivery_tag)
            replayed += 1
    finally:
        connection.close()
    return replayed
