"""Which notices are marketing, in one place: they reach a member (inbox and WeChat alike) only
with her consent to marketing. Everything else is transactional (an order confirmed, paid,
shipped, cancelled or refunded: what she must hear about what she bought) and is always sent.

The kind's purpose travels in `notification.created` (`consent_purpose`), so member's WeChat push
checks the same rule against its own consent records without a list of its own. A new marketing
kind (birthday notices, campaign pushes) is one more entry here."""
from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy.orm import Session

from servicekit import consents

MARKETING_KINDS = frozenset({"coupon_expiring"})

WITHHELD = Counter("mall_support_marketing_withheld_total",
                   "Marketing notices not written because the member has not consented", ["kind"])


def consent_purpose(kind: str) -> str:
    """The consent a notice of `kind` needs; "" when none (transactional)."""
    return consents.MARKETING if kind in MARKETING_KINDS else ""


def may_send(session: Session, member_id: str, kind: str) -> bool:
    """Whether a notice of `kind` may reach the member now, by the latest consent known here
    (none known: no, consent is opt-in)."""
    purpose = consent_purpose(kind)
    if not purpose or consents.granted(session, member_id, purpose):
        return True
    WITHHELD.labels(kind).inc()
    return False
