"""A local stand-in for WeChat's `GET /sns/jscode2session`, answering as WeChat does (HTTP 200,
JSON labelled text/plain, errcode/errmsg on failure), for `make run` and the tests.

    python -m services.member.wechat_standin --port 8090

Codes (the mini-program's wx.login() gives them on a real phone; here anyone makes them up):
- each code works once; a second use answers 40163 (code been used);
- the shopper is the part before the first "~": "alice~1" and "alice~2" sign in the same
  shopper (same openid, same unionid), "alice" alone is also that shopper;
- "invalid..." answers 40029; "ratelimited..." 45011; "risky..." 40226;
- "busy<n>~..." answers -1 (system busy) n times, then signs in, so retries can be tested.
The appid and secret must match the ones it was started with (else 40013 / 40125).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from servicekit.config import env

from .wechat import DEV_APPID, DEV_SECRET

_BUSY = re.compile(r"^busy(\d+)")


def _rid() -> str:
    return f"{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}"


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return prefix + base64.urlsafe_b64encode(digest).decode()[:27]  # 28 chars, like WeChat's


class WechatStandin:
    """The stand-in's state: used codes and busy counters, shared by the server's threads."""

    def __init__(self, appid: str = DEV_APPID, secret: str = DEV_SECRET, with_unionid: bool = True):
        self.appid = appid
        self.secret = secret
        self.with_unionid = with_unionid
        self.calls = 0
        self.session_keys: list[str] = []  # what it handed out, so tests can prove none leaks
        self._used: set[str] = set()
        self._busy_answers: dict[str, int] = {}
        self._lock = threading.Lock()

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
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlsplit(self.path)
            if url.path != "/sns/jscode2session":
                self._send(404, {"errcode": 404, "errmsg": "not found"})
                return
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            self._send(200, standin.answer(query))

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # the query holds the secret
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
                    with_unionid: bool = True) -> RunningStandin:
    return RunningStandin(WechatStandin(appid, secret, with_unionid))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    standin = WechatStandin(env("WECHAT_APPID", DEV_APPID, "member"),
                            env("WECHAT_SECRET", DEV_SECRET, "member"))
    server = ThreadingHTTPServer((args.host, args.port), _handler_for(standin))
    print(f"WeChat stand-in on http://{args.host}:{server.server_address[1]}/sns/jscode2session",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
