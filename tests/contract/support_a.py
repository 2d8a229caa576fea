"""What the contract tests of member, promotion, order and catalog share: calling as someone,
reading a refusal, reading what a service announced, and handing a service an event the way its
worker receives it."""
from __future__ import annotations

import json
import os
import types
import uuid

import grpc
import pytest
from google.protobuf import json_format
from sqlalchemy import text

from servicekit import roles, service
from servicekit.errors import violations_from_trailers
from servicekit.events import make_envelope
from servicekit.testing import outbox_events


def as_user(user_id: str, *user_roles: str) -> list[tuple[str, str]]:
    """The metadata the gateway sends for a signed-in caller."""
    metadata = [("x-mall-user-id", user_id)]
    if user_roles:
        metadata.append(("x-mall-roles", ",".join(user_roles)))
    return metadata


OPERATOR = as_user("staff-operator", roles.OPERATOR)
ADMIN = as_user("staff-admin", roles.ADMIN)
WAREHOUSE = as_user("staff-warehouse", roles.WAREHOUSE)
SHOPPER = as_user("00000000-0000-4000-8000-00000000beef")


def refusal(call, *args, **kwargs) -> grpc.RpcError:
    """The error `call` ends with (the test fails if it succeeds)."""
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def code_of(call, *args, **kwargs) -> grpc.StatusCode:
    return refusal(call, *args, **kwargs).code()


def violations(err: grpc.RpcError) -> set[tuple[str, str]]:
    """(field, rule) of every field violation in the error's trailers."""
    return {(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())}


def violated_fields(err: grpc.RpcError) -> set[str]:
    return {field for field, _ in violations(err)}


def announced(runtime, event_type: str, message_type) -> list:
    """What `runtime`'s service wrote to its outbox for `event_type`, oldest first, each envelope
    checked as every consumer reads it and its data parsed strictly into `message_type` (a field
    the proto does not declare fails)."""
    found = []
    for envelope in outbox_events(runtime, event_type):
        assert set(envelope) == {"id", "type", "source", "occurred_at", "data"}
        assert envelope["type"] == event_type
        assert envelope["source"] == runtime.name
        found.append(json_format.ParseDict(envelope["data"], message_type()))
    return found


def handled(runtime, event_id: str) -> list[str]:
    """The handlers of `runtime`'s service that recorded `event_id` in their inbox."""
    with runtime.engine.connect() as conn:
        return list(conn.execute(text("SELECT handler FROM inbox WHERE event_id = :id"),
                                 {"id": event_id}).scalars())


def deliver(name: str, source: str, event_type: str, message, *, event_id: str | None = None) -> dict:
    """Hands `name`'s worker handlers of `event_type` the envelope exactly as RabbitMQ would give
    it to them (the JSON body, through the kit's inbox), in this process: no worker to start.
    Returns the envelope; fails unless every handler recorded it (a failing handler parks it)."""
    worker_cls = service.module(name, "worker").Worker
    envelope = make_envelope(source, event_type, message, event_id=event_id or str(uuid.uuid4()))
    body = json.loads(json.dumps(envelope))
    runtime = service.runtime(name)
    fake = types.SimpleNamespace(name=name, runtime=runtime,
                                 worker_ctx=types.SimpleNamespace(context_data={}))
    entrypoints = [attr for attr in dir(worker_cls)
                   for entry in getattr(getattr(worker_cls, attr), "nameko_entrypoints", ())
                   if (getattr(entry, "source_service", None),
                       getattr(entry, "event_type", None)) == (source, event_type)]
    assert entrypoints, f"{name}'s worker does not subscribe to {source} {event_type}"
    for attr in entrypoints:
        getattr(worker_cls, attr)(fake, body)
    assert sorted(handled(runtime, envelope["id"])) == sorted(f"{name}.{a}" for a in entrypoints), \
        f"{name} did not handle {event_type} (parked as a dead letter?)"
    return envelope


@pytest.fixture(scope="session")
def wechat():
    """The WeChat stand-in, set in the environment before member's server is built (it reads
    MALL_MEMBER_WECHAT_* once), for the whole session."""
    from services.member.wechat_standin import start_in_thread

    appid, secret = "wxcontracttest001", "contract-test-secret"
    running = start_in_thread(appid, secret)
    saved = {k: os.environ.get(k) for k in ("MALL_MEMBER_WECHAT_API_BASE",
                                            "MALL_MEMBER_WECHAT_APPID", "MALL_MEMBER_WECHAT_SECRET")}
    os.environ.update({"MALL_MEMBER_WECHAT_API_BASE": running.base_url,
                       "MALL_MEMBER_WECHAT_APPID": appid, "MALL_MEMBER_WECHAT_SECRET": secret})
    yield running
    running.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def sign_in(auth_stub, word: str = "shopper") -> tuple[str, list[tuple[str, str]]]:
    """A new shopper through WechatLogin: (member id, metadata to call as them)."""
    from mall.member.v1 import member_pb2

    login = auth_stub.WechatLogin(member_pb2.WechatLoginRequest(code=f"{word}{uuid.uuid4().hex[:10]}"))
    return login.member_id, as_user(login.member_id)
