"""Small helpers of the member tests."""
import os

import grpc
import jwt
import pytest


def as_user(user_id: str, *roles: str) -> list[tuple[str, str]]:
    md = [("x-mall-user-id", user_id)]
    if roles:
        md.append(("x-mall-roles", ",".join(roles)))
    return md


def claims(token: str) -> dict:
    return jwt.decode(token, os.environ["MALL_JWT_SECRET"], algorithms=["HS256"])


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def outbox_events(runtime, event_type: str) -> list[dict]:
    """The envelopes `runtime` wrote to its outbox for `event_type`, oldest first."""
    import json

    from sqlalchemy import select

    table = runtime.outbox_table
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(table.c.body).where(table.c.event_type == event_type)
                            .order_by(table.c.id)).scalars().all()
    return [json.loads(body) for body in rows]


def credit(runtime, member_id: str, amount: int, *, expires_at=None, ref=None):
    """Points credited straight through the ledger (as an adjustment)."""
    from services.member.loyalty import points

    with runtime.transaction() as s:
        return points.credit(s, member_id, points.ADJUST, amount, ref=ref, reason="test",
                             expires_at=expires_at).entry.id


def race(calls) -> list:
    """Runs every zero-argument call in its own thread, released together; the outcomes are
    "ok" or the gRPC status code each call ended with."""
    import threading

    outcomes, lock, start = [], threading.Lock(), threading.Barrier(len(calls))

    def run(call):
        start.wait()
        try:
            call()
            outcome = "ok"
        except grpc.RpcError as err:
            outcome = err.code()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes
