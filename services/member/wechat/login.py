"""The WeChat `jscode2session` (code2Session) adapter: trades a mini-program login code for the
shopper's openid.

WeChat answers HTTP 200 with a JSON body either way: ``{"openid", "session_key", "unionid"?}``
or ``{"errcode", "errmsg"}``. The session_key is a secret shared with the shopper's WeChat
client; this service needs none of it, so it is dropped here: never logged, stored nor returned.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import grpc
import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from servicekit.config import env, env_float
from servicekit.errors import DomainError, PermissionDenied, ResourceExhausted, Unauthenticated

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and ours carries the app secret in its query string.
logging.getLogger("httpx").setLevel(logging.WARNING)

DEFAULT_BASE = "https://api.weixin.qq.com"
# For `make run` with the local stand-in; production sets both from the mini-program's settings.
DEV_APPID = "wx0000000000000dev"
DEV_SECRET = "dev-secret-not-for-production"

ERR_SYSTEM_BUSY = -1
ERR_INVALID_CODE = 40029
ERR_CODE_USED = 40163
ERR_RATE_LIMITED = 45011
ERR_HIGH_RISK = 40226


class WechatUnavailable(DomainError):
    """WeChat could not be reached or stayed busy: the shopper may simply try again."""
    code = grpc.StatusCode.UNAVAILABLE


class WechatRejectedUs(DomainError):
    """WeChat refused our own credentials or request (appid, secret ...): an operator's problem."""
    code = grpc.StatusCode.INTERNAL


class _Retryable(Exception):
    """A failure worth another attempt: WeChat said busy, or the network failed."""


@dataclass(frozen=True)
class WechatIdentity:
    openid: str
    unionid: str | None


@dataclass(frozen=True)
class WechatConfig:
    base_url: str
    appid: str
    secret: str
    timeout_seconds: float = 5.0
    attempts: int = 3

    @classmethod
    def from_env(cls) -> "WechatConfig":
        return cls(base_url=env("WECHAT_API_BASE", DEFAULT_BASE, "member").rstrip("/"),
                   appid=env("WECHAT_APPID", DEV_APPID, "member"),
                   secret=env("WECHAT_SECRET", DEV_SECRET, "member"),
                   timeout_seconds=env_float("WECHAT_TIMEOUT_SECONDS", 5.0, "member"))


class WechatClient:
    def __init__(self, config: WechatConfig, http: httpx.Client | None = None):
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_seconds)
        # Bounded: a few quick attempts, so the shopper's login never waits for long.
        self._call = retry(retry=retry_if_exception_type(_Retryable),
                           stop=stop_after_attempt(config.attempts),
                           wait=wait_exponential(multiplier=0.2, max=1.0),
                           reraise=True)(self._call_once)

    def close(self) -> None:
        self._http.close()

    def code_to_session(self, code: str) -> WechatIdentity:
        try:
            answer = self._call(code)
        except _Retryable as exc:
            raise WechatUnavailable("WeChat sign-in is unavailable right now; try again shortly") \
                from exc
        return self._identity(answer)

    def _call_once(self, code: str) -> dict:
        params = {"appid": self.config.appid, "secret": self.config.secret, "js_code": code,
                  "grant_type": "authorization_code"}
        try:
            response = self._http.get(f"{self.config.base_url}/sns/jscode2session", params=params)
        except httpx.HTTPError as exc:
            log.warning("jscode2session failed to connect: %s", type(exc).__name__)
            raise _Retryable(type(exc).__name__) from exc
        if response.status_code >= 500:
            log.warning("jscode2session answered HTTP %s", response.status_code)
            raise _Retryable(f"HTTP {response.status_code}")
        try:
            answer = json.loads(response.text)  # WeChat labels its JSON text/plain
        except ValueError as exc:
            raise WechatRejectedUs(f"WeChat answered HTTP {response.status_code} without JSON") \
                from exc
        if not isinstance(answer, dict):
            raise WechatRejectedUs("WeChat answered JSON that is not an object")
        if answer.get("errcode") == ERR_SYSTEM_BUSY:
            log.warning("jscode2session: system busy (%s)", answer.get("errmsg", ""))
            raise _Retryable("system busy")
        return answer

    @staticmethod
    def _identity(answer: dict) -> WechatIdentity:
        errcode = answer.get("errcode") or 0
        errmsg = str(answer.get("errmsg", ""))
        if errcode == ERR_INVALID_CODE:
            raise Unauthenticated("the login code is invalid or expired; call wx.login() again "
                                  "and send the new code")
        if errcode == ERR_CODE_USED:
            raise Unauthenticated("the login code was already used; call wx.login() again and "
                                  "send the new code")
        if errcode == ERR_RATE_LIMITED:
            raise ResourceExhausted("too many sign-in attempts for this WeChat user; wait a "
                                    "minute and try again")
        if errcode == ERR_HIGH_RISK:
            raise PermissionDenied("WeChat flagged this account as high-risk; sign-in refused")
        if errcode != 0:
            log.error("jscode2session refused our request: errcode=%s errmsg=%s", errcode, errmsg)
            raise WechatRejectedUs(f"WeChat refused the sign-in request (errcode {errcode})")
        openid = answer.get("openid")
        if not openid or not isinstance(openid, str):
            raise WechatRejectedUs("WeChat answered without an openid")
        return WechatIdentity(openid=openid, unionid=answer.get("unionid") or None)
