"""WeChat subscribe messages (订阅消息): the access token and `subscribe/send`.

- `POST {base}/cgi-bin/stable_token` `{"grant_type": "client_credential", "appid", "secret"}` →
  `{"access_token", "expires_in"}`. Normal mode (no force_refresh): WeChat hands every caller the
  same token while it is valid and renews it in its last 5 minutes, so replicas never invalidate
  each other's token (force_refresh is limited to 20 a day and would).
- `POST {base}/cgi-bin/message/subscribe/send?access_token=...` `{"touser", "template_id", "page",
  "data": {"thing1": {"value": ...}, ...}, "miniprogram_state", "lang"}` → `{"errcode", "errmsg"}`.

Outcomes: errcode 0 `sent`; 43101 (the shopper did not accept the template, or cancelled it)
`refused`, never retried; 40001 / 40014 / 42001 (our token is invalid or expired) drop the cached
token and send once more with a fresh one; -1 (system busy), HTTP 5xx and network errors are
retried a few times; anything else `failed`, logged with the errcode for the operator.

The openid is an identifier of the shopper: nothing here logs it. The access token travels in the
query string, so httpx's request log stays silenced (done in wechat.py, imported here).
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from servicekit.times import SHANGHAI, as_utc

from .login import ERR_SYSTEM_BUSY, WechatConfig

log = logging.getLogger(__name__)

ERR_REFUSED = 43101                      # user refused / not subscribed to this template
ERR_TOKEN_REJECTED = {40001, 40014, 42001}  # invalid credential, invalid token, token expired
MINIPROGRAM_STATES = ("formal", "trial", "developer")

SENT, REFUSED, FAILED = "sent", "refused", "failed"


class _Retryable(Exception):
    """WeChat said busy, answered 5xx, or could not be reached: worth another attempt."""

    def __init__(self, why: str, errcode: int | None = None):
        super().__init__(why)
        self.errcode = errcode


class BadAnswer(Exception):
    """WeChat (or something in front of it) answered without a JSON object: nothing is known."""


class TokenRefused(Exception):
    """stable_token refused our appid/secret (or our IP): nothing a retry fixes."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"stable_token refused: errcode={errcode} {errmsg}")
        self.errcode = errcode


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


@dataclass
class _Calls:
    sends: int = 0


class AccessTokens:
    """The stable access token, cached until shortly before it expires. One fetch at a time (the
    lock is green under eventlet), so a burst of pushes after expiry costs one stable_token call."""

    def __init__(self, config: WechatConfig, http: httpx.Client, clock=time.monotonic):
        self.config = config
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._good_until = 0.0
        self.fetches = 0

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._good_until:
                self._token, lifetime = self._fetch()
                # Renew before WeChat does (it renews in the last 5 minutes), a tenth early on
                # short-lived tokens.
                self._good_until = self._clock() + lifetime - min(300.0, lifetime / 10)
            return self._token

    def invalidate(self, token: str) -> None:
        """Forgets `token` if it is still the cached one (another caller may have renewed it)."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        self.fetches += 1
        body = {"grant_type": "client_credential", "appid": self.config.appid,
                "secret": self.config.secret}
        try:
            answer = _post_json(self._http, f"{self.config.base_url}/cgi-bin/stable_token", body,
                                "stable_token")
        except BadAnswer as exc:
            raise TokenRefused(None, str(exc)) from exc
        errcode = answer.get("errcode") or 0
        if errcode == ERR_SYSTEM_BUSY:
            raise _Retryable("stable_token busy", errcode)
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        if errcode or not isinstance(token, str) or not token or not isinstance(lifetime, int):
            log.error("stable_token refused our request: errcode=%s errmsg=%s", errcode or None,
                      answer.get("errmsg", ""))
            raise TokenRefused(errcode or None, str(answer.get("errmsg", "")))
        return token, float(lifetime)


class SubscribeMessenger:
    """Sends subscribe messages; `send` never raises for what WeChat answers, it says what became
    of the message. One instance per process: it holds the token cache and the connection pool."""

    def __init__(self, config: WechatConfig, http: httpx.Client | None = None,
                 clock=time.monotonic):
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_seconds)
        self.tokens = AccessTokens(config, self._http, clock)
        # Bounded, like the login's: a push is worth a few quick tries, not a stuck worker.
        self._send_with_retries = retry(retry=retry_if_exception_type(_Retryable),
                                        stop=stop_after_attempt(config.attempts),
                                        wait=wait_exponential(multiplier=0.2, max=1.0),
                                        reraise=True)(self._send_once)

    def close(self) -> None:
        self._http.close()

    def send(self, message: SubscribeMessage) -> SendResult:
        calls = _Calls()
        try:
            answer = self._send_with_retries(message.body(), calls)
        except _Retryable as exc:
            log.warning("subscribe/send gave up after %s call(s): %s", calls.sends, exc)
            return SendResult(FAILED, exc.errcode, calls.sends, "wechat_unavailable")
        except TokenRefused as exc:
            return SendResult(FAILED, exc.errcode, calls.sends, "token_refused")
        except BadAnswer:  # perhaps delivered, perhaps not: recorded, not guessed
            return SendResult(FAILED, None, calls.sends, "bad_answer")
        errcode = answer.get("errcode", 0)
        if errcode == 0:
            return SendResult(SENT, 0, calls.sends)
        if errcode == ERR_REFUSED:
            return SendResult(REFUSED, errcode, calls.sends, "not_subscribed")
        # 40003 openid, 40037 template id, 47003 data, 41030 page, or a token still rejected
        # after renewing it: our configuration or our data, worth an operator's look.
        log.error("subscribe/send refused template %s: errcode=%s errmsg=%s", message.template_id,
                  errcode, answer.get("errmsg", ""))
        return SendResult(FAILED, errcode, calls.sends, "rejected")

    def _send_once(self, body: dict, calls: _Calls) -> dict:
        token = self.tokens.get()
        answer = self._post_send(token, body, calls)
        if answer.get("errcode") in ERR_TOKEN_REJECTED:
            log.info("access token rejected (errcode %s): fetching a new one", answer["errcode"])
            self.tokens.invalidate(token)
            answer = self._post_send(self.tokens.get(), body, calls)
        if answer.get("errcode") == ERR_SYSTEM_BUSY:
            raise _Retryable("subscribe/send busy", ERR_SYSTEM_BUSY)
        return answer

    def _post_send(self, token: str, body: dict, calls: _Calls) -> dict:
        calls.sends += 1
        return _post_json(self._http, f"{self.config.base_url}/cgi-bin/message/subscribe/send",
                          body, "subscribe/send", params={"access_token": token})


def _post_json(http: httpx.Client, url: str, body: dict, what: str, params=None) -> dict:
    try:
        response = http.post(url, params=params,
                             content=json.dumps(body, ensure_ascii=False).encode(),
                             headers={"Content-Type": "application/json; charset=utf-8"})
    except httpx.HTTPError as exc:  # the URL may hold the token: only the error's type is logged
        log.warning("%s failed to connect: %s", what, type(exc).__name__)
        raise _Retryable(type(exc).__name__) from exc
    if response.status_code >= 500:
        log.warning("%s answered HTTP %s", what, response.status_code)
        raise _Retryable(f"HTTP {response.status_code}")
    try:
        answer = json.loads(response.text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        log.error("%s answered HTTP %s without a JSON object", what, response.status_code)
        raise BadAnswer(f"HTTP {response.status_code} without a JSON object")
    return answer


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
