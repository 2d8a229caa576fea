"""Support's notices pushed to the shopper's WeChat as subscribe messages, at most once each.

`notification.created` names the member; this service knows their openid. Each notification gets
one `wechat_pushes` row: `skipped` (no template for its kind, a member unknown here or deleted, a
marketing notice for a member whose latest word in this database is not a grant of that consent),
or `sending` committed before WeChat is called and then `sent`, `refused` or `failed`.
subscribe/send has no idempotency key, so the claim is what stops a redelivered event from
pushing twice: a worker killed mid-call leaves `sending`, and the notice stays unpushed (the
shopper still has it in the inbox) rather than arriving twice.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.orm import Session

from servicekit.config import env
from servicekit.db import dialect_insert
from servicekit.times import parse_rfc3339, utcnow

from ..models import Member, WechatPush
from ..profile import consents
from .login import WechatConfig
from .subscribe_messages import (
    DEFAULT_KEYS,
    MINIPROGRAM_STATES,
    SubscribeMessage,
    SubscribeMessenger,
    Template,
    parse_keys,
)

log = logging.getLogger(__name__)

PUSHES = Counter("mall_member_wechat_pushes_total", "WeChat subscribe messages by kind and outcome",
                 ["kind", "status"])

SENDING, SKIPPED = "sending", "skipped"
DEFAULT_ORDER_PAGE = "pages/order/detail"
_TEMPLATE_PREFIXES = ("MALL_WECHAT_TEMPLATE_", "MALL_MEMBER_WECHAT_TEMPLATE_")  # later wins


def templates_from_env(environ=os.environ) -> dict[str, Template]:
    """`MALL_MEMBER_WECHAT_TEMPLATE_<KIND>=<template id>` for each notice kind to push, with an
    optional `..._<KIND>_KEYS=title=thing1,order=character_string2,...` when that template's keys
    differ from the default layout. Any kind support announces works, without a code change."""
    found: dict[str, str] = {}
    for prefix in _TEMPLATE_PREFIXES:
        for name, value in environ.items():
            if name.startswith(prefix) and not name.endswith("_KEYS") and value:
                found[name[len(prefix):].lower()] = value
    templates = {}
    for kind, template_id in found.items():
        keys_text = env(f"WECHAT_TEMPLATE_{kind.upper()}_KEYS", None, "member")
        templates[kind] = Template(template_id, parse_keys(keys_text) if keys_text
                                   else dict(DEFAULT_KEYS))
    return templates


@dataclass(frozen=True)
class PushSettings:
    templates: dict[str, Template] = field(default_factory=dict)
    miniprogram_state: str = "formal"
    order_page: str = DEFAULT_ORDER_PAGE

    @classmethod
    def from_env(cls) -> "PushSettings":
        state = env("WECHAT_MINIPROGRAM_STATE", "formal", "member")
        if state not in MINIPROGRAM_STATES:
            raise ValueError(f"MALL_MEMBER_WECHAT_MINIPROGRAM_STATE must be one of "
                             f"{', '.join(MINIPROGRAM_STATES)}, not {state!r}")
        return cls(templates_from_env(), state,
                   env("WECHAT_ORDER_PAGE", DEFAULT_ORDER_PAGE, "member").lstrip("/"))


class WechatPusher:
    """What the worker holds for its lifetime: the settings and the messenger (token cache,
    connection pool)."""

    def __init__(self, settings: PushSettings, messenger: SubscribeMessenger):
        self.settings = settings
        self.messenger = messenger

    @classmethod
    def from_env(cls) -> "WechatPusher":
        return cls(PushSettings.from_env(), SubscribeMessenger(WechatConfig.from_env()))

    def close(self) -> None:
        self.messenger.close()


def push_notification(session: Session, notice, pusher: WechatPusher) -> str:
    """Pushes one `NotificationCreated` (at most once); returns what became of it, or
    `duplicate` when its row already existed.

    Commits `session` before calling WeChat (with whatever it held, the inbox row included): the
    claim must be durable before the push can have happened, and no connection is held while
    WeChat answers."""
    kind = notice.kind
    template = pusher.settings.templates.get(kind)
    if template is None:
        return _skip(session, notice, "no_template")
    member = session.get(Member, notice.member_id) if notice.member_id else None
    if member is None:
        return _skip(session, notice, "unknown_member")
    if member.deleted_at is not None:
        return _skip(session, notice, "member_deleted")
    # Support names the consent a marketing notice needs; this database has the member's own
    # word, so a withdrawal stops every push handled after it, whatever support knew then.
    if notice.consent_purpose and not consents.granted(session, member.id, notice.consent_purpose):
        return _skip(session, notice, f"no_{notice.consent_purpose}_consent")
    if not _insert(session, notice, SENDING, template_id=template.template_id):
        return _duplicate(notice)
    at = parse_rfc3339(notice.created_at) if notice.created_at else utcnow()
    message = SubscribeMessage(
        touser=member.openid, template_id=template.template_id,
        data=template.data(title=notice.title, body=notice.body,
                           order=notice.order_no or notice.order_id, at=at),
        page=f"{pusher.settings.order_page}?id={notice.order_id}" if notice.order_id else "",
        miniprogram_state=pusher.settings.miniprogram_state)
    session.commit()

    result = pusher.messenger.send(message)
    session.execute(update(WechatPush)
                    .where(WechatPush.notification_id == notice.notification_id)
                    .values(status=result.status, errcode=result.errcode, attempts=result.attempts,
                            reason=result.reason, finished_at=utcnow()))
    PUSHES.labels(kind, result.status).inc()
    log.info("notification %s (%s) for member %s: %s, errcode %s, %s call(s)",
             notice.notification_id, kind, notice.member_id, result.status, result.errcode,
             result.attempts)
    return result.status


def _skip(session: Session, notice, reason: str) -> str:
    if not _insert(session, notice, SKIPPED, reason=reason):
        return _duplicate(notice)
    PUSHES.labels(notice.kind, SKIPPED).inc()
    log.info("notification %s (%s) for member %s: skipped, %s", notice.notification_id,
             notice.kind, notice.member_id, reason)
    return SKIPPED


def _duplicate(notice) -> str:
    log.info("notification %s already has its WeChat push row: not pushed again",
             notice.notification_id)
    return "duplicate"


def _insert(session: Session, notice, status: str, *, reason: str = "",
            template_id: str = "") -> bool:
    """The notification's row; False when it already had one (a redelivery, another replica)."""
    now = utcnow()
    statement = dialect_insert(session, WechatPush.__table__).values(
        notification_id=notice.notification_id, member_id=notice.member_id, kind=notice.kind,
        status=status, reason=reason, template_id=template_id, errcode=None, attempts=0,
        created_at=now, finished_at=now if status == SKIPPED else None,
    ).on_conflict_do_nothing(index_elements=["notification_id"])
    return session.execute(statement).rowcount == 1
