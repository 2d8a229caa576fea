"""campaign.changed: every change of a campaign (created, updated, ended) announced with the
whole campaign as GetCampaign returns it and its version, in the transaction of the change, so
consumers (catalog's sale read model, later the console and analytics) keep a copy and ignore
stale events (applied only when the version is above the one they hold)."""
from __future__ import annotations

from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy.orm import Session

from servicekit.runtime import Runtime

from .models import Campaign

CHANGES = ("created", "updated", "ended")


def announce(runtime: Runtime, session: Session, campaign_row: Campaign, change: str, by: str) -> dict:
    from . import campaigns, convert  # campaigns imports this module
    if change not in CHANGES:
        raise ValueError(f"change must be one of {CHANGES}; got {change!r}")
    session.flush()
    quotas = campaigns.quotas(session, [campaign_row.id])[campaign_row.id]
    return runtime.emit(session, "campaign.changed", events.CampaignChanged(
        campaign=convert.campaign_message(campaign_row, quotas), change=change, changed_by=by,
        version=campaign_row.version))
