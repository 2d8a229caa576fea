"""WeChat subscribe messages (订阅消息): `subscribe/send`, through the shared caller (openapi.py:
the access token, its renewal, busy retries).

- `POST {base}/cgi-bin/message/subscribe/send?access_token=...` `{"touser", "template_id", "page",
  "data": {"thing1": {"value": ...}, ...}, "miniprogram_state", "lang"}` → `{"errcode", "errmsg"}`.

Outcomes: errcode 0 `sent`; 43101 (the shopper did not accept the template, or cancelled it)
`refused`, never retried; a rejected token is renewed once and the message sent again; -1
(system busy), HTTP 5xx and network errors are retried a few times; anything else `failed`,
logged with the errcode for the operator.

The openid is an identifier of the shopper: nothing here logs it.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from servicekit.times import SHANGHAI, as_utc

from .login import WechatConfig
from .openapi import BAD_ANSWER, TOKEN_REFUSED, UNAVAILABLE, WechatOpenApi

log = logging.getLogger(__name__)

ERR_REFUSED = 43101                      # user refused / not subscribed to this template
MINIPROGRAM_STATES = ("formal", "trial", "developer")
SEND_PATH = "/cgi-bin/message/subscribe/send"

SENT, REFUSED, FAILED = "sent", "refused", "failed"
_FAILURE_REASONS = {UNAVAILABLE: "wechat_unavailable", TOKEN_REFUSED: "token_refused",
                    BAD_ANSWER: "bad_answer"}


@dataclass(frozen=True)
class SubscribeMessage:
    touser: str                 # the shopper's openid
    template_id: str
    data: dict[str, str]        # WeChat key (thing1 ...) -> value, already within its limits
    page: str = ""
    miniprogram_state: str = "formal"
    lang: str = "zh_CN"

    def body(self) -> dict:
        body = {"touser": self.touser, "template_id": self.template_id,
                "data": {key: {"value": value} for key, value in self.data.items()},
                "miniprogram_state": self.miniprogram_state, "lang": self.lang}
        if self.page:
            body["page"] = self.page
        return body


@dataclass(frozen=True)
class SendResult:
    status: str                 # sent | refused | failed
    errcode: int | None         # WeChat's, or None when it never answered one
    attempts: int               # calls made to subscribe/send
    reason: str = ""            # a short code when not sent


class SubscribeMessenger:
    """Sends subscribe messages; `send` never raises for what WeChat answers, it says what became
    of the message. One instance per process: it holds the token cache and the connection pool
    (`api`, shared with the other WeChat endpoints when given)."""

    def __init__(self, config: WechatConfig, http: httpx.Client | None = None,
                 clock=time.monotonic, *, api: WechatOpenApi | None = None):
        self.config = config
        self.api = api or WechatOpenApi(config, http, clock)
        self.tokens = self.api.tokens

    def close(self) -> None:
        self.api.close()

    def send(self, message: SubscribeMessage) -> SendResult:
        answer = self.api.post(SEND_PATH, message.body())
        if answer.failure:
            return SendResult(FAILED, answer.errcode, answer.calls,
                              _FAILURE_REASONS[answer.failure])
        if answer.errcode == 0:
            return SendResult(SENT, 0, answer.calls)
        if answer.errcode == ERR_REFUSED:
            return SendResult(REFUSED, answer.errcode, answer.calls, "not_subscribed")
        # 40003 openid, 40037 template id, 47003 data, 41030 page, or a token still rejected
        # after renewing it: our configuration or our data, worth an operator's look.
        log.error("subscribe/send refused template %s: errcode=%s errmsg=%s", message.template_id,
                  answer.errcode, answer.errmsg)
        return SendResult(FAILED, answer.errcode, answer.calls, "rejected")


# --- the message data: WeChat's value rules per key type -------------------------------------------

THING_MAX = 20             # thing: up to 20 characters (汉字, digits, letters, symbols)
CHARACTER_STRING_MAX = 32  # character_string: up to 32 digits, letters, symbols
_KEY = re.compile(r"^(thing|character_string|time|date)(\d+)$")
_NOT_CHARACTER_STRING = re.compile(r"[^!-~]")  # anything but visible ASCII


def key_type(key: str) -> str:
    """thing1 -> thing. Raises ValueError for keys whose type this service cannot fill."""
    match = _KEY.match(key)
    if not match:
        raise ValueError(f"template key {key!r}: only thing<n>, character_string<n>, time<n> and "
                         "date<n> can be filled from a notice")
    return match.group(1)


def thing(text: str) -> str:
    """Whitespace folded, at most 20 characters (the 20th an ellipsis when cut); never empty,
    since WeChat refuses an empty value."""
    text = " ".join(text.split())
    if len(text) > THING_MAX:
        text = text[:THING_MAX - 1] + "…"
    return text or "-"


def character_string(text: str) -> str:
    """Visible ASCII only, at most 32. A UUID loses its dashes first (36 → 32, nothing lost)."""
    text = _NOT_CHARACTER_STRING.sub("", text)
    if len(text) > CHARACTER_STRING_MAX:
        text = text.replace("-", "")
    return text[:CHARACTER_STRING_MAX] or "-"


def shanghai_time(moment: datetime) -> str:
    return as_utc(moment).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def shanghai_date(moment: datetime) -> str:
    local = as_utc(moment).astimezone(SHANGHAI)
    return f"{local.year}年{local.month:02d}月{local.day:02d}日 {local:%H:%M}"


PARTS = ("title", "body", "order", "time")
DEFAULT_KEYS = {"title": "thing1", "order": "character_string2", "body": "thing3", "time": "time4"}


def parse_keys(text: str) -> dict[str, str]:
    """"title=thing1,order=character_string2" -> {"title": "thing1", ...}; ValueError when a part
    or a key is unknown, or a time/date key is given anything but the time."""
    keys = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        part, _, key = (s.strip() for s in pair.partition("="))
        if part not in PARTS:
            raise ValueError(f"template keys: {part!r} is not one of {', '.join(PARTS)}")
        if key_type(key) in ("time", "date") and part != "time":
            raise ValueError(f"template keys: {key} holds a time; only `time` fits it")
        keys[part] = key
    if not keys:
        raise ValueError("template keys: none given")
    return keys


@dataclass(frozen=True)
class Template:
    """A subscribe-message template chosen for one notice kind, and which of its keys gets which
    part of the notice."""
    template_id: str
    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))  # part -> key

    def data(self, *, title: str, body: str, order: str, at: datetime) -> dict[str, str]:
        texts = {"title": title, "body": body, "order": order, "time": shanghai_time(at)}
        data = {}
        for part, key in self.keys.items():
            kind = key_type(key)
            if kind == "time":
                data[key] = shanghai_time(at)
            elif kind == "date":
                data[key] = shanghai_date(at)
            elif kind == "thing":
                data[key] = thing(texts[part])
            else:
                data[key] = character_string(texts[part])
        return data
