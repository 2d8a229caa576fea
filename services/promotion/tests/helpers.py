from datetime import datetime, timedelta, timezone

from services.promotion.models import CouponTemplate, IssuedCoupon
from services.promotion.templates import TemplateSpec

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def fixed_spec(**overrides) -> TemplateSpec:
    values = dict(name="满199减30", kind="fixed_amount", amount_fen=3000, threshold_fen=19900,
                  per_member_limit=2, total_quantity=1000, scope="all",
                  valid_from=NOW, valid_until=NOW + timedelta(days=30))
    values.update(overrides)
    return TemplateSpec(**values)


def coupon(session, *, member_id="m-1", status="locked", order_id="o-1", valid_for=timedelta(days=7)):
    """A coupon in a member's wallet, written directly (there is no claim or lock RPC yet)."""
    template = session.query(CouponTemplate).first()
    if template is None:
        template = CouponTemplate(name="无门槛10元", kind="no_threshold", amount_fen=1000,
                                  per_member_limit=5, total_quantity=100, issued_count=0,
                                  scope="all", valid_days_after_claim=7, created_by="staff-1",
                                  created_at=NOW, request_fingerprint="-", category_ids=[],
                                  product_ids=[])
        session.add(template)
        session.flush()
    template.issued_count += 1
    issued = IssuedCoupon(template_id=template.id, member_id=member_id, status=status,
                          valid_from=NOW - timedelta(days=1), valid_until=NOW + valid_for,
                          claimed_at=NOW - timedelta(days=1), updated_at=NOW,
                          locked_order_id=order_id if status == "locked" else None,
                          locked_at=NOW if status == "locked" else None)
    session.add(issued)
    session.flush()
    return issued
