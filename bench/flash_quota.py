"""A flash sale opens: 1,000 buyers at once (each taps "buy" twice, as impatient shoppers do) for
100 units with a limit of 1 per member, through gRPC (LockForOrder) against a real promotion
server process (`python -m servicekit api promotion`) on PostgreSQL: a fresh database on
127.0.0.1:5432 and a fresh RabbitMQ vhost for its outbox relay, both dropped afterwards.

Last line: flash buyers=1000 locked=100 over_limit=0 rate_per_s=N
(locked: units held by orders; over_limit: members holding more than 1; rate: attempts answered
per second, locked or refused).
"""
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gen"))
os.environ.setdefault("MALL_VAR_DIR", tempfile.mkdtemp(prefix="mall-bench-"))

import grpc  # noqa: E402
from google.protobuf.timestamp_pb2 import Timestamp  # noqa: E402

from servicekit.testing import (  # noqa: E402
    ApiProcess,
    create_database,
    create_vhost,
    delete_vhost,
    drop_databases,
)

BUYERS, UNITS, TAPS = int(os.environ.get("BENCH_BUYERS", "1000")), 100, 2
CLIENT_THREADS = 64
RUN = uuid.uuid4().hex[:8]
DATABASE, VHOST = f"mall_bench_flash_{RUN}", f"mall-bench-flash-{RUN}"
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    os.environ["MALL_PROMOTION_DATABASE_URL"] = create_database(DATABASE)
    if not create_vhost(VHOST):
        raise SystemExit("bench/flash_quota.py needs rabbitmqctl to make a throw-away vhost")
    os.environ["MALL_AMQP_URL"] = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
    os.environ["MALL_PROMOTION_API_METRICS_PORT"] = "0"
    os.environ["MALL_PROMOTION_CHECK_CATALOG"] = "0"  # no catalog here: its SKUs are made up
    os.environ.setdefault("MALL_PROMOTION_DB_POOL_SIZE", "16")
    server = None
    try:
        from servicekit import migrate
        migrate.upgrade("promotion")
        server = ApiProcess("promotion", {"PYTHONPATH": f"{ROOT}:{ROOT / 'gen'}"}).start()
        run(server.target)
    finally:
        if server is not None:
            server.stop()
        from servicekit import service
        service.runtime("promotion").dispose()
        drop_databases([DATABASE])
        delete_vhost(VHOST)


def run(target: str) -> None:
    from mall.promotion.v1 import promotion_pb2 as pb
    from mall.promotion.v1 import promotion_pb2_grpc
    from sqlalchemy import func, select

    from servicekit import grpc_client, service
    from services.promotion.models import CampaignQuota, MemberQuotaUsage

    stub = promotion_pb2_grpc.PromotionServiceStub(grpc_client.channel("promotion", target=target))
    now = datetime.now(timezone.utc)
    stamp = lambda moment: Timestamp(seconds=int(moment.timestamp()))  # noqa: E731
    staff = (("x-mall-user-id", "bench"), ("x-mall-roles", "admin"))
    campaign = stub.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name="整点秒杀", kind=pb.FLASH_SALE, starts_at=stamp(now - timedelta(minutes=1)),
        ends_at=stamp(now + timedelta(hours=1)), per_member_limit=1,
        flash_items=[pb.FlashSaleItem(sku_id="sku-hot", sale_price_fen=9900, quota=UNITS)])),
        metadata=staff).id
    expires = stamp(now + timedelta(minutes=15))

    def tap(attempt: int) -> str:
        buyer = attempt % BUYERS
        try:
            stub.LockForOrder(pb.LockForOrderRequest(
                order_id=f"o-{attempt}", member_id=f"m-{buyer}", expires_at=expires,
                flash_lines=[pb.QuotaClaim(campaign_id=campaign, sku_id="sku-hot", quantity=1)]),
                timeout=30)
            return "locked"
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            return "refused"

    attempts = BUYERS * TAPS
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        outcomes = list(pool.map(tap, range(attempts)))
    elapsed = time.perf_counter() - started
    rt = service.runtime("promotion")
    with rt.transaction() as session:
        taken = session.scalar(select(CampaignQuota.taken))
        over_limit = session.scalar(select(func.count()).where(MemberQuotaUsage.used > 1))
    print(f"{attempts} attempts in {elapsed:.2f}s: {outcomes.count('locked')} locked, "
          f"{outcomes.count('refused')} refused (quota gone or member limit); quota taken {taken}")
    print(f"flash buyers={BUYERS} locked={taken} over_limit={over_limit} "
          f"rate_per_s={attempts / elapsed:.0f}")


if __name__ == "__main__":
    main()
