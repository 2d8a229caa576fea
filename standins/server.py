"""The small HTTP plumbing the provider stand-ins share: a threaded stdlib server that routes
each request to the stand-in's `handle(method, path, query, headers, body)`, in the background
(tests) or in the foreground (`make run`), and a sender that delivers notifications with retries
as providers do."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx

from servicekit import httpclient
from servicekit.standin_http import KeepAliveHandler

log = logging.getLogger(__name__)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict | None = None


def _handler_for(standin) -> type[BaseHTTPRequestHandler]:
    class Handler(KeepAliveHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                reply = standin.handle(self.command, url.path, url.query,
                                       {k: v for k, v in self.headers.items()}, body)
            except Exception as err:  # a stand-in bug answers 500, as a provider outage would
                log.exception("stand-in failed")
                reply = Reply(500, f'{{"code":"SYSTEM_ERROR","message":"{type(err).__name__}"}}'.encode())
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for key, value in (reply.headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _serve  # noqa: N815 (the stdlib's names)

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler


def query_params(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


class RunningStandin:
    """A stand-in serving in a background thread: `.base_url`, `.standin`, `.stop()`."""

    def __init__(self, standin, host: str = "127.0.0.1", port: int = 0):
        self.standin = standin
        self._server = ThreadingHTTPServer((host, port), _handler_for(standin))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=type(standin).__name__)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def main(doc: str, default_port: int, make_standin) -> None:
    """A stand-in's command line: `--host`, `--port`; `make_standin()` builds it from the
    environment once the arguments are read."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args()
    serve_forever(make_standin(), args.host, args.port)


def serve_forever(standin, host: str, port: int) -> None:
    server = ThreadingHTTPServer((host, port), _handler_for(standin))
    server.daemon_threads = True
    print(f"{type(standin).__name__} listening on http://{host}:{port}", flush=True)
    server.serve_forever()


RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)  # providers resend for hours; a stand-in needs less


def deliver(url: str, body: bytes, headers: dict[str, str], accepted, *, retry: bool = True) -> int:
    """Posts a notification; if `accepted(response)` is False, resends in the background.
    Returns the first answer's status (0 when it could not be delivered at all)."""
    def attempt() -> tuple[bool, int]:
        try:
            # pooled: a Client per notification was most of the stand-in's CPU (a TLS context each)
            response = httpclient.client().post(url, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as err:
            log.warning("notification to %s not delivered: %s", url, err)
            return False, 0
        return accepted(response), response.status_code

    ok, status = attempt()
    if not ok and retry:
        def again() -> None:
            for delay in RETRY_DELAYS:
                time.sleep(delay)
                if attempt()[0]:
                    return
        threading.Thread(target=again, daemon=True).start()
    return status
