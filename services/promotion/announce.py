"""campaign.changed: every change of a campaign (created, updated, ended) announced with the whole
campaign as GetCampaign returns it and its version, in the transaction that made the change, so
read models (catalog's prices on sale, the console, analytics) apply only a newer version."""
from __future__ import annotations

from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy.orm import Session

from servicekit.runtime import Runtime

from .models import Campaign


def announce(runtime: Runtime, session: Session, campaign_row: Campaign, change: str, by: str) -> None:
    # campaigns and convert (through locks) read this module: imported when first needed
    from . import campaigns, convert

    session.flush()
    quotas = campaigns.quotas(session, [campaign_row.id])[campaign_row.id]
    runtime.emit(session, "campaign.changed", events.CampaignChanged(
        campaign=convert.campaign_message(campaign_row, quotas), change=change, changed_by=by,
        version=campaign_row.version))
