"""1,000 concurrent SpendPoints through gRPC against a real member server on PostgreSQL (its own
database and RabbitMQ vhost, dropped at the end): 50 members with 100 points each, 20 checkouts
per member each spending 10, all sent at once. The server serializes each member's changes on
their account row; different members run side by side.

Afterwards the ledger is read back: `overdrawn` counts members whose balance went below zero or
whose balance differs from the sum of their ledger (it must be 0), `spent` the successful
checkouts (it must be 50 × 10 = 500).

Last line: points attempts=1000 spent=500 overdrawn=0 rate_per_s=N p99_ms=N
(target: overdrawn=0 always, spent=500)
"""
from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

MEMBERS, PER_MEMBER, BALANCE, SPEND = 50, 20, 100, 10
ATTEMPTS = MEMBERS * PER_MEMBER


def seed() -> list[str]:
    from servicekit import service
    from servicekit.times import utcnow
    from services.member.loyalty import points
    from services.member.models import Member

    rt = service.runtime("member")
    ids = [str(uuid.uuid4()) for _ in range(MEMBERS)]
    now = utcnow()
    with rt.transaction() as session:
        for member_id in ids:
            session.add(Member(id=member_id, openid=f"bench-{member_id}", nickname="",
                               avatar_url="", created_at=now, last_login_at=now))
        session.flush()
        for member_id in ids:
            points.credit(session, member_id, points.ADJUST, BALANCE, reason="bench")
    rt.dispose()
    return ids


def storm(target: str, members: list[str]) -> dict:
    import grpc
    from mall.member.v1 import loyalty_pb2, loyalty_pb2_grpc

    from servicekit import grpc_client

    stub = loyalty_pb2_grpc.LoyaltyServiceStub(
        grpc_client.channel("member", target=target, timeout_seconds=60))
    stub.GetPricingProfile(loyalty_pb2.GetPricingProfileRequest(member_id=members[0]))  # warm up
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    done, lock = threading.Event(), threading.Lock()

    def finished(future, started):
        took = time.perf_counter() - started
        try:
            future.result()
            outcome = "spent"
        except grpc.RpcError as err:
            outcome = err.code().name
        with lock:
            latencies.append(took)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if len(latencies) == ATTEMPTS:
                done.set()

    began = time.perf_counter()
    for i in range(ATTEMPTS):
        request = loyalty_pb2.SpendPointsRequest(order_id=f"bench-{i:05d}",
                                                 member_id=members[i % MEMBERS], points=SPEND)
        started = time.perf_counter()
        future = stub.SpendPoints.future(request, timeout=120)
        future.add_done_callback(lambda f, s=started: finished(f, s))
    if not done.wait(300):
        raise RuntimeError(f"only {len(latencies)} of {ATTEMPTS} spends answered")
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"outcomes": outcomes, "seconds": elapsed,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


def read_back(members: list[str]) -> tuple[int, int]:
    """(spend entries in the ledger, members whose balance is negative or not their ledger's sum)."""
    from sqlalchemy import func, select

    from servicekit import service
    from services.member.models import PointsAccount, PointsEntry

    rt = service.runtime("member")
    with rt.transaction() as session:
        spent = session.scalar(select(func.count()).where(PointsEntry.kind == "spend"))
        sums = dict(session.execute(select(PointsEntry.member_id, func.sum(PointsEntry.points))
                                    .group_by(PointsEntry.member_id)).all())
        balances = dict(session.execute(select(PointsAccount.member_id, PointsAccount.balance)).all())
    rt.dispose()
    return spent, sum(1 for m in members if balances[m] < 0 or balances[m] != sums[m])


def main() -> None:
    from servicekit import testing

    testing.prepare_environment()
    os.environ["MALL_LOG_LEVEL"] = "WARNING"
    api = None
    try:
        testing.ensure_database("member")
        members = seed()
        api = testing.ApiProcess("member").start()
        result = storm(api.target, members)
        spent, overdrawn = read_back(members)
        if spent != result["outcomes"].get("spent", 0):
            raise SystemExit(f"{result['outcomes'].get('spent', 0)} replies said spent, the ledger "
                             f"holds {spent}")
        print(f"outcomes {result['outcomes']} in {result['seconds']:.2f}s")
        print(f"points attempts={ATTEMPTS} spent={spent} overdrawn={overdrawn} "
              f"rate_per_s={ATTEMPTS / result['seconds']:.0f} p99_ms={result['p99_ms']:.0f}")
    finally:
        if api:
            api.stop()
        testing.teardown_environment()


if __name__ == "__main__":
    main()
