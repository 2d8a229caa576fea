"""The HTTP handler base of the providers' local stand-ins (WeChat, WeChat Pay, Alipay, card,
the carrier): they answer as the real servers do, and those keep connections alive."""
from __future__ import annotations

from http.server import BaseHTTPRequestHandler


class KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1, so a client's pooled connection serves many calls: a connection per call cost
    both sides a connect, and the stand-in a new server thread, each time. Every answer must
    carry a Content-Length (`send_error` does)."""
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds an idle kept connection stays open
