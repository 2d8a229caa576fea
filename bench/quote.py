"""Quote for a 10-line cart with 3 campaigns in force (a flash sale, a threshold ladder, a gift),
a coupon and points: in process (the servicer's Quote: cached rules, the coupon read from the
database, the engine) and through gRPC (the full servicekit stack, same process). Then the same
with a store-wide sale added (8 折, "new arrivals" excluded) and the merchant's stacking rules
letting the ladder and points stack on sale lines above a 60% floor (`sale_*`).

Uses a fresh SQLite database in a temporary var/ unless MALL_PROMOTION_DATABASE_URL is set.
Last line: quote inproc_p99_ms=N grpc_p99_ms=N sale_inproc_p99_ms=N sale_grpc_p99_ms=N
(target: inproc <= 5, grpc <= 2x inproc, both scenarios)
"""
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gen"))
os.environ.setdefault("MALL_VAR_DIR", tempfile.mkdtemp(prefix="mall-bench-"))
os.environ.setdefault("MALL_PROMOTION_DATABASE_URL",
                      f"sqlite:///{os.environ['MALL_VAR_DIR']}/promotion-bench.db")

from mall.promotion.v1 import promotion_pb2 as pb  # noqa: E402
from mall.promotion.v1 import promotion_pb2_grpc  # noqa: E402

from servicekit import grpc_client, grpc_server, migrate, service, tracing  # noqa: E402
from services.promotion import campaigns, coupons, stacking, templates  # noqa: E402
from services.promotion.api import PromotionService  # noqa: E402
from services.promotion.campaign_spec import CampaignSpec, FlashItem, GiftTerms  # noqa: E402
from services.promotion.sales import SaleTerms  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "2000"))
NOW = datetime.now(timezone.utc)


def seed(rt) -> str:
    """Three campaigns and one coupon in m-1's wallet; the coupon's id."""
    window = dict(starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=1))
    with rt.transaction() as session:
        for spec in (
            CampaignSpec(name="秒杀", kind="flash_sale", per_member_limit=2, **window,
                         flash_items=(FlashItem("sku-0", sale_price_fen=4900, quota=1000),)),
            CampaignSpec(name="满减", kind="threshold", rungs=((20000, 5000), (40000, 12000)),
                         scope="categories", category_ids=("bras",), **window),
            CampaignSpec(name="满赠", kind="gift", **window,
                         gift=GiftTerms(30000, "sku-bag", "p-bag", "收纳袋", 1, 1000)),
        ):
            campaigns.create(session, rt, spec, created_by="bench")
        template = templates.create(session, rt, templates.TemplateSpec(
            name="满300减30", kind="fixed_amount", amount_fen=3000, threshold_fen=30000,
            per_member_limit=5, total_quantity=100, scope="all", valid_days_after_claim=7),
            created_by="bench")
        return str(coupons.issue_to_members(session, rt, str(template.id), ["m-1"],
                                            staff_id="bench", existing=lambda ids: ids)[0].id)


def add_store_wide_sale(rt) -> None:
    """Every line but the new arrivals at 8 折; the ladder and points stack on sale lines, no
    line below 60% of its list price."""
    with rt.transaction() as session:
        campaigns.create(session, rt, CampaignSpec(
            name="全场8折", kind="sale", starts_at=NOW - timedelta(hours=1),
            ends_at=NOW + timedelta(days=1),
            sale=SaleTerms(scope="all", price_percent=80, exclude_category_ids=("new",))),
            created_by="bench")
        stacking.set_rules(session, member=False, threshold=True, coupons=False, points=True,
                           floor_percent=60, by="bench", now=NOW)


def request(coupon_id: str) -> pb.QuoteRequest:
    lines = [pb.QuoteLine(line_id=f"l{i}", sku_id=f"sku-{i}", product_id=f"p-{i}", quantity=1 + i % 3,
                          list_price_fen=5900 + 1000 * i,
                          category_ids=["bras" if i % 2 else "panties"] + (["new"] if i % 5 == 4 else []),
                          title=f"商品{i}") for i in range(10)]
    return pb.QuoteRequest(lines=lines, coupon_ids=[coupon_id], points_to_use=2000,
                           member=pb.PricingMember(member_id="m-1", tier_code="gold", tier_name="金卡",
                                                   tier_rank=2, discount_percent=95))


def p99_ms(call, message) -> float:
    for _ in range(200):
        call(message)
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call(message)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return samples[int(len(samples) * 0.99) - 1] * 1000


def main() -> None:
    tracing.setup("bench")
    migrate.upgrade("promotion")
    rt = service.runtime("promotion")
    message = request(seed(rt))
    servicer = PromotionService(rt)
    answer = servicer.Quote(message, None)
    print(f"cart: 10 lines, {len(answer.adjustments)} order adjustments, {len(answer.gifts)} gift, "
          f"total {answer.total_fen} fen; " + " / ".join(answer.explanation))
    inproc = p99_ms(lambda m: servicer.Quote(m, None), message)
    server = grpc_server.build_server("promotion", port=0, host="127.0.0.1", with_relay=False,
                                      max_workers=4)
    stub = promotion_pb2_grpc.PromotionServiceStub(
        grpc_client.channel("promotion", target=f"127.0.0.1:{server.port}"))
    over_grpc = p99_ms(lambda m: stub.Quote(m, timeout=5), message)

    add_store_wide_sale(rt)
    servicer.rulebook.invalidate()
    answer = servicer.Quote(message, None)
    on_sale = sum(1 for line in answer.lines if line.sale_campaign_id)
    print(f"with a store-wide sale: {on_sale} sale lines, {len(answer.adjustments)} order "
          f"adjustments, total {answer.total_fen} fen; " + " / ".join(answer.explanation))
    sale_inproc = p99_ms(lambda m: servicer.Quote(m, None), message)
    sale_grpc = p99_ms(lambda m: stub.Quote(m, timeout=5), message)
    server.stop()
    print(f"quote inproc_p99_ms={inproc:.2f} grpc_p99_ms={over_grpc:.2f} "
          f"sale_inproc_p99_ms={sale_inproc:.2f} sale_grpc_p99_ms={sale_grpc:.2f}")


if __name__ == "__main__":
    main()
