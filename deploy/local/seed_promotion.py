"""The demo promotions of `make run`: a claimable coupon, a 满减 ladder over the whole shop and a
weekly flash sale (every Friday 20:00-22:00 Beijing time) on the first demo SKU.

    seed(channel, skus)   # skus as seed_catalog.seed returns them

Idempotent: what exists (by name) is kept, so a second run writes nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from mall.promotion.v1 import promotion_pb2 as pb
from mall.promotion.v1 import promotion_pb2_grpc as pb_grpc

STAFF = (("x-mall-user-id", "make-run-seed"), ("x-mall-roles", "admin"))
TIMEOUT = 10.0
COUPON = "新人券 满199减30"
LADDER = "全场满减 满200减50 满400减120"
FLASH = "周五晚8点秒杀"


def _stamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def seed(channel: grpc.Channel, skus: list[dict]) -> list[str]:
    """Creates what is missing; returns the names created."""
    stub = pb_grpc.PromotionServiceStub(channel)
    templates = {t.spec.name for t in stub.ListCouponTemplates(
        pb.ListCouponTemplatesRequest(), metadata=STAFF, timeout=TIMEOUT).templates}
    campaigns = {c.spec.name for c in stub.ListCampaigns(
        pb.ListCampaignsRequest(), metadata=STAFF, timeout=TIMEOUT).campaigns if c.status == "active"}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    window = dict(starts_at=_stamp(now), ends_at=_stamp(now + timedelta(days=90)))
    created = []
    if COUPON not in templates:
        stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=pb.CouponTemplateSpec(
            name=COUPON, kind=pb.FIXED_AMOUNT, amount_fen=3000, threshold_fen=19900,
            valid_days_after_claim=30, per_member_limit=1, total_quantity=10000, scope=pb.ALL,
            claimable=True)), metadata=STAFF, timeout=TIMEOUT)
        created.append(COUPON)
    if LADDER not in campaigns:
        stub.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(
            name=LADDER, kind=pb.THRESHOLD, scope=pb.ALL, **window,
            rungs=[pb.Rung(threshold_fen=20000, off_fen=5000),
                   pb.Rung(threshold_fen=40000, off_fen=12000)])), metadata=STAFF, timeout=TIMEOUT)
        created.append(LADDER)
    if FLASH not in campaigns and skus:
        first = skus[0]
        stub.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(
            name=FLASH, kind=pb.FLASH_SALE, **window, per_member_limit=1,
            session=pb.WeeklySession(weekday=5, start="20:00", end="22:00"),
            flash_items=[pb.FlashSaleItem(sku_id=first["sku_id"], price_percent=70, quota=100)])),
            metadata=STAFF, timeout=TIMEOUT)
        created.append(FLASH)
    return created
