"""VIP 优先购 at the cart and the checkout: a product catalog put on early access opens to members
of tier rank >= N from T0 and to everyone from T1; a member catalog invited to its trial may buy
it before T1 whatever her tier. Order keeps the rule on its product read model (product.* events)
and the invitations from product.trial_invited, and refuses anyone else with 409
(FAILED_PRECONDITION, rule `early_access`) naming the rule and when it opens to her.

The check runs when a SKU is added to the cart or its quantity raised, and again when an order is
placed (and previewed), with the tier member's GetPricingProfile gives the checkout: a cart or a
quote made earlier never gets past it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.errors import FailedPrecondition, FieldViolation
from servicekit.times import SHANGHAI, parse_rfc3339

from .models import ProductSku, TrialInvitation


@dataclass(frozen=True)
class EarlyRule:
    min_rank: int
    tier_name: str
    opens_at: datetime | None   # for tier rank >= min_rank (None: not before public_at)
    public_at: datetime         # for everyone


@dataclass(frozen=True)
class Refusal:
    rule: EarlyRule
    opens_to_her: datetime      # opens_at for her tier when it is high enough, else public_at


def decide(rule: EarlyRule | None, rank: int | None, invited: bool, now: datetime) -> Refusal | None:
    """None when she may buy now. `rank` None is a guest (no tier)."""
    if rule is None or now >= rule.public_at or invited:
        return None
    if rank is not None and rank >= rule.min_rank:
        if rule.opens_at is not None and now >= rule.opens_at:
            return None
        return Refusal(rule, rule.opens_at or rule.public_at)
    return Refusal(rule, rule.public_at)


def rule_of(row: ProductSku) -> EarlyRule | None:
    if row.early_public_at is None:
        return None
    return EarlyRule(row.early_min_rank, row.early_tier_name, row.early_opens_at, row.early_public_at)


def _shanghai(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def explain(title: str, refusal: Refusal) -> str:
    r = refusal.rule
    return (f"{title} is early access for {r.tier_name} and above (tier rank {r.min_rank}+) until "
            f"{_shanghai(r.public_at)} (Asia/Shanghai): it opens to you at "
            f"{_shanghai(refusal.opens_to_her)}")


def check(session: Session, lines: Iterable[tuple[str, ProductSku]], member_id: str,
          rank_of: Callable[[], int | None], now: datetime) -> None:
    """Refuses the lines (field name, SKU row) the rule does not open to her yet, all at once.
    `rank_of` is asked (once) only when some line has a rule still closed to the public and she
    was not invited to it."""
    refusals: list[FieldViolation] = []
    rank: list[int | None] = []
    for field, row in lines:
        rule = rule_of(row)
        if rule is None or now >= rule.public_at:
            continue
        invited = bool(member_id) and session.get(TrialInvitation, (row.product_id, member_id)) is not None
        if invited:
            continue
        if not rank:
            rank.append(rank_of())
        refusal = decide(rule, rank[0], invited, now)
        if refusal is not None:
            refusals.append(FieldViolation(field, "early_access", explain(row.title, refusal)))
    if refusals:
        raise FailedPrecondition(refusals[0].description if len(refusals) == 1 else
                                 f"{len(refusals)} items are not open to you yet: " +
                                 "; ".join(v.description for v in refusals), refusals)


def keep_invitations(session: Session, invited) -> int:
    """From catalog's product.trial_invited: each (product, member) once, whatever the redelivery."""
    at = parse_rfc3339(invited.invited_at) if invited.invited_at else datetime.now().astimezone()
    added = 0
    for member_id in dict.fromkeys(invited.member_ids):
        added += session.execute(dialect_insert(session, TrialInvitation).values(
            product_id=invited.product_id, member_id=member_id, invited_at=at)
            .on_conflict_do_nothing()).rowcount
    return added
