"""VIP 优先购: a product opens to members of tier rank >= N from T0 and to everyone from T1, and
members invited to its trial may buy it before T1 whatever their tier.

Catalog owns the rule and the invitations and announces them (the rule in every product.* event's
`early_access`, invitations as product.trial_invited); order keeps both in its product read model
and refuses the cart and the checkout of a shopper the rule does not open to yet. The tier's
display name shown to shoppers ("coming soon for 金卡 and above") is the one staff set with the
rule: catalog never asks member, so a listing stays one query and the same for everyone.
"""
from __future__ import annotations

from datetime import datetime

from mall.catalog.v1 import catalog_pb2 as pb
from mall.events.v1 import catalog_events_pb2 as ev
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from servicekit.errors import FailedPrecondition, FieldViolation, Violations
from servicekit.ids import excerpt, is_reference
from servicekit.times import SHANGHAI, parse_rfc3339, rfc3339, utcnow

from .models import Product, TrialInvitation
from .products import get_for_update, touched

MAX_RANK = 99          # member's tiers are ranked 0..99; rank 0 is everyone
MAX_TIER_NAME = 20
MAX_INVITES = 1000     # members per InviteToTrial call
MAX_SOURCE = 80


def _moment(v: Violations, field: str, text: str) -> datetime | None:
    if not v.check(bool(text), field, "required", f"{field} is required (RFC 3339)"):
        return None
    try:
        return parse_rfc3339(text)
    except ValueError:
        v.add(field, "format", f"{field} must be an RFC 3339 time, e.g. 2026-12-08T02:00:00Z; "
                               f"got {excerpt(text)}")
        return None


def set_rule(rt, session: Session, request: pb.SetEarlyAccessRequest,
             now: datetime | None = None) -> Product:
    """Sets or clears the rule; a product that shoppers can see announces product.updated."""
    now = now or utcnow()
    v = Violations()
    opens = public = None
    if not request.clear:
        v.check(1 <= request.min_tier_rank <= MAX_RANK, "min_tier_rank", "range",
                f"a tier rank from 1 to {MAX_RANK} (rank 0 is every shopper); "
                f"got {request.min_tier_rank}")
        name = request.tier_name.strip()
        v.check(0 < len(name) <= MAX_TIER_NAME, "tier_name", "length",
                f"the tier's name as shoppers see it, 1 to {MAX_TIER_NAME} characters")
        opens = _moment(v, "opens_at", request.opens_at)
        public = _moment(v, "public_at", request.public_at)
        if opens and public:
            v.check(opens < public, "public_at", "after_opens_at",
                    "public_at must be after opens_at (the tier opens first)")
            v.check(public > now, "public_at", "future",
                    "public_at is already past: the product is open to everyone; clear the rule")
    v.raise_if_any("the early-access rule is invalid")
    product = get_for_update(session, request.product_id)
    if request.clear:
        if product.early_public_at is None:
            return product  # nothing to clear: a retry changes nothing
        product.early_min_rank, product.early_tier_name = 0, ""
        product.early_opens_at = product.early_public_at = None
    else:
        product.early_min_rank, product.early_tier_name = request.min_tier_rank, request.tier_name.strip()
        product.early_opens_at, product.early_public_at = opens, public
    session.flush()
    touched(rt, session, product)
    return product


def invite(rt, session: Session, request: pb.InviteToTrialRequest, invited_by: str,
           now: datetime | None = None) -> pb.InviteToTrialResponse:
    """Invites members to a product's trial (staff now, precision marketing later): each once;
    the newly invited are announced as product.trial_invited."""
    now = now or utcnow()
    v = Violations()
    ids = list(request.member_ids)
    v.check(1 <= len(ids) <= MAX_INVITES, "member_ids", "count",
            f"1 to {MAX_INVITES} member ids; got {len(ids)}")
    for i, member_id in enumerate(ids[:MAX_INVITES]):
        v.check(is_reference(member_id), f"member_ids[{i}]", "format",
                f"{excerpt(member_id)} is not a member id")
    source = request.source or "staff"
    v.check(len(source) <= MAX_SOURCE and is_reference(source), "source", "format",
            f"staff or marketing:<campaign>, at most {MAX_SOURCE} printable ASCII characters")
    v.raise_if_any("the invitation is invalid")
    product = get_for_update(session, request.product_id)  # invitations of a product take turns
    if product.early_public_at is None:
        raise FailedPrecondition(
            "the product has no early-access rule: it is open to everyone, a trial means nothing",
            [FieldViolation("product_id", "early_access", "set the product's early-access rule first")])
    wanted = list(dict.fromkeys(ids))
    known = set(session.scalars(select(TrialInvitation.member_id).where(
        TrialInvitation.product_id == product.id, TrialInvitation.member_id.in_(wanted))))
    new = [m for m in wanted if m not in known]
    session.add_all(TrialInvitation(product_id=product.id, member_id=m, source=source,
                                    invited_by=invited_by, invited_at=now) for m in new)
    session.flush()
    if new:
        rt.emit(session, "product.trial_invited", ev.TrialInvited(
            product_id=product.id, member_ids=new, source=source, invited_at=rfc3339(now)))
    total = session.scalar(select(func.count()).select_from(TrialInvitation)
                           .where(TrialInvitation.product_id == product.id))
    return pb.InviteToTrialResponse(product_id=product.id, invited=len(new), total=total)


def label(tier_name: str, public_at: datetime) -> str:
    """What a card says until the public opening, in Shanghai time."""
    local = public_at.astimezone(SHANGHAI)
    return (f"{tier_name}及以上会员优先购，{local.month}月{local.day}日 "
            f"{local:%H:%M} 公开发售")


def pending(min_rank: int, public_at: datetime | None, now: datetime | None = None) -> bool:
    return public_at is not None and min_rank > 0 and (now or utcnow()) < public_at


def message(min_rank: int, tier_name: str, opens_at: datetime | None, public_at: datetime | None,
            *, invited: bool = False, now: datetime | None = None) -> pb.EarlyAccess | None:
    """The card's and the detail's early_access while before the public opening; None after."""
    if not pending(min_rank, public_at, now):
        return None
    return pb.EarlyAccess(min_tier_rank=min_rank, tier_name=tier_name, opens_at=rfc3339(opens_at),
                          public_at=rfc3339(public_at), label=label(tier_name, public_at),
                          invited=invited)


def is_invited(session: Session, product_id: str, member_id: str) -> bool:
    if not member_id:
        return False
    return session.get(TrialInvitation, (product_id, member_id)) is not None
