"""Calling WeChat's server API (`POST {base}/...?access_token=...`), once for every endpoint the
member service uses: the stable access token and its cache, one renewal when WeChat rejects the
token, a few quick attempts when WeChat says busy or cannot be reached.

- `POST {base}/cgi-bin/stable_token` `{"grant_type": "client_credential", "appid", "secret"}` →
  `{"access_token", "expires_in"}`. Normal mode (no force_refresh): WeChat hands every caller the
  same token while it is valid and renews it in its last 5 minutes, so replicas never invalidate
  each other's token (force_refresh is limited to 20 a day and would).
- Every call answers HTTP 200 with `{"errcode", "errmsg", ...}`. 40001 / 40014 / 42001 (our token
  is invalid or expired) drop the cached token and call once more with a fresh one; the endpoint's
  busy codes (-1 everywhere), HTTP 5xx and network errors are retried a few times.

`post` never raises for what WeChat answers: it says what happened (`Answer`), and each endpoint's
module decides what an errcode means. The token travels in the query string, so httpx's request
log stays silenced (done in login.py, imported here) and errors log only their type.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from .login import ERR_SYSTEM_BUSY, WechatConfig

log = logging.getLogger(__name__)

ERR_TOKEN_REJECTED = {40001, 40014, 42001}  # invalid credential, invalid token, token expired
BUSY = frozenset({ERR_SYSTEM_BUSY})

# Why a call has no usable answer (Answer.failure).
UNAVAILABLE, TOKEN_REFUSED, BAD_ANSWER = "wechat_unavailable", "token_refused", "bad_answer"


class _Retryable(Exception):
    """WeChat said busy, answered 5xx, or could not be reached: worth another attempt."""

    def __init__(self, why: str, errcode: int | None = None, errmsg: str = ""):
        super().__init__(why)
        self.errcode = errcode
        self.errmsg = errmsg


class BadAnswer(Exception):
    """WeChat (or something in front of it) answered without a JSON object: nothing is known."""


class TokenRefused(Exception):
    """stable_token refused our appid/secret (or our IP): nothing a retry fixes."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"stable_token refused: errcode={errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class Answer:
    """What one `post` came to: WeChat's JSON object, or why there is none."""
    body: dict | None           # WeChat's answer (errcode 0 or not); None when `failure`
    calls: int                  # calls made to the endpoint (stable_token not counted)
    failure: str = ""           # UNAVAILABLE | TOKEN_REFUSED | BAD_ANSWER, "" when answered
    errcode: int | None = None  # WeChat's, also the last one seen when it stayed busy
    errmsg: str = ""

    @property
    def ok(self) -> bool:
        return self.body is not None and self.errcode == 0


class AccessTokens:
    """The stable access token, cached until shortly before it expires. One fetch at a time (the
    lock is green under eventlet), so a burst of calls after expiry costs one stable_token call."""

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
            answer = post_json(self._http, f"{self.config.base_url}/cgi-bin/stable_token", body,
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


@dataclass
class _Count:
    calls: int = 0


class WechatOpenApi:
    """One per process: the token cache and the connection pool every endpoint shares."""

    def __init__(self, config: WechatConfig, http: httpx.Client | None = None,
                 clock=time.monotonic):
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_seconds)
        self.tokens = AccessTokens(config, self._http, clock)
        # Bounded, like the login's: a call is worth a few quick tries, not a stuck worker.
        self._with_retries = retry(retry=retry_if_exception_type(_Retryable),
                                   stop=stop_after_attempt(config.attempts),
                                   wait=wait_exponential(multiplier=0.2, max=1.0),
                                   reraise=True)(self._once)

    def close(self) -> None:
        self._http.close()

    def post(self, path: str, body: dict, *, busy: frozenset[int] = BUSY) -> Answer:
        """POSTs `body` to `{base}{path}?access_token=...`; `busy` are the errcodes that mean
        "try again shortly" for this endpoint."""
        count = _Count()
        try:
            answer = self._with_retries(path, body, busy, count)
        except _Retryable as exc:
            log.warning("%s gave up after %s call(s): %s", path, count.calls, exc)
            return Answer(None, count.calls, UNAVAILABLE, exc.errcode, exc.errmsg)
        except TokenRefused as exc:
            return Answer(None, count.calls, TOKEN_REFUSED, exc.errcode, exc.errmsg)
        except BadAnswer as exc:  # perhaps done, perhaps not: recorded, not guessed
            return Answer(None, count.calls, BAD_ANSWER, None, str(exc))
        errcode = answer.get("errcode", 0)
        return Answer(answer, count.calls, "", errcode if isinstance(errcode, int) else None,
                      str(answer.get("errmsg", "")))

    def _once(self, path: str, body: dict, busy: frozenset[int], count: _Count) -> dict:
        token = self.tokens.get()
        answer = self._post(path, token, body, count)
        if answer.get("errcode") in ERR_TOKEN_REJECTED:
            log.info("access token rejected (errcode %s): fetching a new one", answer["errcode"])
            self.tokens.invalidate(token)
            answer = self._post(path, self.tokens.get(), body, count)
        if answer.get("errcode") in busy:
            raise _Retryable(f"{path} busy", answer["errcode"], str(answer.get("errmsg", "")))
        return answer

    def _post(self, path: str, token: str, body: dict, count: _Count) -> dict:
        count.calls += 1
        return post_json(self._http, f"{self.config.base_url}{path}", body, path,
                         params={"access_token": token})


def post_json(http: httpx.Client, url: str, body: dict, what: str, params=None) -> dict:
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
