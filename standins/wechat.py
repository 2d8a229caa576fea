"""A local stand-in for WeChat's `GET /sns/jscode2session`, `POST /cgi-bin/stable_token` and
`POST /cgi-bin/message/subscribe/send`, answering as WeChat does (HTTP 200, errcode/errmsg on
failure), for `make run` and the tests.

    python -m standins.wechat --port 8090

Codes (the mini-program's wx.login() gives them on a real phone; here anyone makes them up):
- each code works once; a second use answers 40163 (code been used);
- the shopper is the part before the first "~": "alice~1" and "alice~2" sign in the same
  shopper (same openid, same unionid), "alice" alone is also that shopper;
- "invalid..." answers 40029; "ratelimited..." 45011; "risky..." 40226;
- "busy<n>~..." answers -1 (system busy) n times, then signs in, so retries can be tested.
The appid and secret must match the ones it was started with (else 40013 / 40125).

Subscribe messages: stable_token issues tokens that expire after `token_ttl` seconds (the same
token to every caller while it lives, as WeChat's normal mode does; `expire_tokens()` ends them
early). subscribe/send checks the token (41001 missing, 40001 unknown, 42001 expired), the
template id against `templates` (40037), each data value against WeChat's rules for its key type
(47003), answers 43101 for openids in `refusing`, -1 while `busy_sends` > 0, and records every
accepted message in `sent`. With `templates` None (`make run`) any template id is accepted.
`GET /standin/subscribe-messages` (the stand-in's own, not WeChat's) lists `sent`, so a journey
through a suite of processes sees what reached the shopper.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from servicekit.config import env
from servicekit.standin_http import KeepAliveHandler
from services.member.wechat.login import DEV_APPID, DEV_SECRET

_BUSY = re.compile(r"^busy(\d+)")
# WeChat's value rules per key type (the ones the member service fills).
_VALUE_RULES = {
    "thing": lambda v: 0 < len(v) <= 20,
    "character_string": lambda v: re.fullmatch(r"[!-~]{1,32}", v) is not None,
    "time": lambda v: re.fullmatch(r"(\d{4}-\d{2}-\d{2} |\d{4}年\d{1,2}月\d{1,2}日 )?"
                                   r"\d{1,2}:\d{2}", v) is not None,
    "date": lambda v: re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日( \d{1,2}:\d{2})?", v) is not None,
}


def _rid() -> str:
    return f"{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}"


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return prefix + base64.urlsafe_b64encode(digest).decode()[:27]  # 28 chars, like WeChat's


class WechatStandin:
    """The stand-in's state: used codes and busy counters, shared by the server's threads."""

    def __init__(self, appid: str = DEV_APPID, secret: str = DEV_SECRET, with_unionid: bool = True,
                 *, templates: set[str] | None = None, token_ttl: int = 7200):
        self.appid = appid
        self.secret = secret
        self.with_unionid = with_unionid
        self.calls = 0
        self.session_keys: list[str] = []  # what it handed out, so tests can prove none leaks
        self._used: set[str] = set()
        self._busy_answers: dict[str, int] = {}
        self._lock = threading.Lock()
        # subscribe messages
        self.templates = templates      # accepted template ids; None: any
        self.token_ttl = token_ttl
        self.refusing: set[str] = set()  # openids that did not accept (43101)
        self.busy_sends = 0             # the next n sends answer -1
        self.token_calls = 0
        self.send_calls = 0
        self.sent: list[dict] = []      # every accepted subscribe/send body, in order
        self._tokens: dict[str, float] = {}  # token -> expiry (time.monotonic)
        self._current_token: str | None = None

    def openid_of(self, shopper: str) -> str:
        """The openid jscode2session gives the shopper whose codes start with `shopper`."""
        return _stable_id("o", self.appid, shopper)

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on (as if its 2 hours had passed)."""
        with self._lock:
            self._tokens = {token: 0.0 for token in self._tokens}
            self._current_token = None

    def stable_token(self, body: dict) -> dict:
        with self._lock:
            self.token_calls += 1
            if body.get("grant_type") != "client_credential":
                return _error(40002, "invalid grant_type")
            if body.get("appid") != self.appid:
                return _error(40013, "invalid appid")
            if body.get("secret") != self.secret:
                return _error(40125, "invalid appsecret")
            now = time.monotonic()
            current = self._current_token
            if body.get("force_refresh") or current is None or self._tokens[current] <= now:
                if current is not None and body.get("force_refresh"):
                    self._tokens[current] = 0.0  # force_refresh ends the previous token
                current = self._current_token = f"ST{secrets.token_urlsafe(48)}"
                self._tokens[current] = now + self.token_ttl
            # round, not int: (now + 7200) - now is 7199.99… for some clock values, which WeChat never says
            return {"access_token": current, "expires_in": max(1, round(self._tokens[current] - now))}

    def subscribe_send(self, access_token: str | None, body: dict) -> dict:
        with self._lock:
            self.send_calls += 1
            if not access_token:
                return _error(41001, "access_token missing")
            if access_token not in self._tokens:
                return _error(40001, "invalid credential, access_token is invalid or not latest")
            if self._tokens[access_token] <= time.monotonic():
                return _error(42001, "access_token expired")
            if self.busy_sends > 0:
                self.busy_sends -= 1
                return _error(-1, "system error")
            touser = body.get("touser")
            if not isinstance(touser, str) or not touser:
                return _error(40003, "invalid openid")
            template_id = body.get("template_id")
            if not template_id or (self.templates is not None and template_id not in self.templates):
                return _error(40037, "invalid template_id")
            data = body.get("data")
            if not isinstance(data, dict) or not data:
                return _error(47003, "argument invalid! data is empty")
            for key, item in data.items():
                value = item.get("value") if isinstance(item, dict) else None
                rule = _VALUE_RULES.get(re.sub(r"\d+$", "", key))
                if not isinstance(value, str) or not value:
                    return _error(47003, f"argument invalid! data.{key}.value is empty")
                if rule is not None and not rule(value):
                    return _error(47003, f"argument invalid! data.{key}.value invalid")
            if body.get("miniprogram_state", "formal") not in ("formal", "trial", "developer"):
                return _error(47001, "data format error")
            if touser in self.refusing:
                return _error(43101, "user refuse to accept the msg")
            self.sent.append(body)
            return {"errcode": 0, "errmsg": "ok"}

    def answer(self, query: dict[str, str]) -> dict:
        with self._lock:
            self.calls += 1
            return self._answer(query)

    def _answer(self, q: dict[str, str]) -> dict:
        if not q.get("appid") or q["appid"] != self.appid:
            return _error(40013, "invalid appid")
        if not q.get("secret") or q["secret"] != self.secret:
            return _error(40125, "invalid appsecret")
        if q.get("grant_type") != "authorization_code":
            return _error(40002, "invalid grant_type")
        code = q.get("js_code", "")
        if not code:
            return _error(41008, "missing code")
        if code.startswith("invalid"):
            return _error(40029, "invalid code")
        if code.startswith("ratelimited"):
            return _error(45011, "api minute-quota reach limit  mustslower  retry next minute")
        if code.startswith("risky"):
            return _error(40226, "high risk user")
        busy = _BUSY.match(code)
        if busy and self._busy_answers.get(code, 0) < int(busy.group(1)):
            self._busy_answers[code] = self._busy_answers.get(code, 0) + 1
            return _error(-1, "system error")
        if code in self._used:
            return _error(40163, "code been used")
        self._used.add(code)
        shopper = code.split("~", 1)[0]
        answer = {"session_key": base64.b64encode(secrets.token_bytes(16)).decode(),
                  "openid": _stable_id("o", self.appid, shopper)}
        self.session_keys.append(answer["session_key"])
        if self.with_unionid:
            answer["unionid"] = _stable_id("u", "open-platform", shopper)
        return answer


def _error(errcode: int, errmsg: str) -> dict:
    return {"errcode": errcode, "errmsg": f"{errmsg}, rid: {_rid()}"}


def _handler_for(standin: WechatStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(KeepAliveHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(200, _error(47001, "data format error"), "application/json")
                return
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            if url.path == "/cgi-bin/stable_token":
                self._send(200, standin.stable_token(body), "application/json")
            elif url.path == "/cgi-bin/message/subscribe/send":
                self._send(200, standin.subscribe_send(query.get("access_token"), body),
                           "application/json")
            else:
                self._send(404, {"errcode": 404, "errmsg": "not found"})

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlsplit(self.path)
            if url.path == "/standin/subscribe-messages":
                with standin._lock:
                    sent = list(standin.sent)
                self._send(200, {"sent": sent}, "application/json")
                return
            if url.path != "/sns/jscode2session":
                self._send(404, {"errcode": 404, "errmsg": "not found"})
                return
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            self._send(200, standin.answer(query))

        def _send(self, status: int, body: dict, content_type: str = "text/plain") -> None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # the query holds a secret or token
            pass

    return Handler


class RunningStandin:
    """A stand-in serving in a background thread (tests): `.base_url`, `.standin`, `.stop()`."""

    def __init__(self, standin: WechatStandin, host: str = "127.0.0.1", port: int = 0):
        self.standin = standin
        self._server = ThreadingHTTPServer((host, port), _handler_for(standin))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="wechat-standin",
                                        daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_in_thread(appid: str = DEV_APPID, secret: str = DEV_SECRET, *,
                    with_unionid: bool = True, templates: set[str] | None = None,
                    token_ttl: int = 7200) -> RunningStandin:
    return RunningStandin(WechatStandin(appid, secret, with_unionid, templates=templates,
                                        token_ttl=token_ttl))


@contextmanager
def serving_member(appid: str, secret: str) -> Iterator[RunningStandin]:
    """The stand-in for a test session, with member's settings pointed at it (set before member's
    server is built: it reads MALL_MEMBER_WECHAT_* once, when its servicers are registered)."""
    from servicekit.testing import environment

    running = start_in_thread(appid, secret)
    try:
        with environment(MALL_MEMBER_WECHAT_API_BASE=running.base_url,
                         MALL_MEMBER_WECHAT_APPID=appid, MALL_MEMBER_WECHAT_SECRET=secret):
            yield running
    finally:
        running.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    standin = WechatStandin(env("WECHAT_APPID", DEV_APPID, "member"),
                            env("WECHAT_SECRET", DEV_SECRET, "member"))
    # Openids listed here answer 43101, to see a refusal in `make run`.
    standin.refusing = set(filter(None, os.environ.get("MALL_WECHAT_STANDIN_REFUSING", "").split(",")))
    server = ThreadingHTTPServer((args.host, args.port), _handler_for(standin))
    print(f"WeChat stand-in on http://{args.host}:{server.server_address[1]} (jscode2session, "
          "stable_token, subscribe/send)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
