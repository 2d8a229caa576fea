"""The stand-ins' handler base: one client connection serves many calls, as with the providers."""
import threading
from http.server import ThreadingHTTPServer

import httpx
import pytest

from servicekit.standin_http import KeepAliveHandler


class Echo(KeepAliveHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        if self.path == "/missing":
            self.send_error(404)
            return
        body = f"{self.client_address[1]}".encode()  # the client's port: one per connection
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def base_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_one_connection_serves_many_calls_and_an_error_closes_it(base_url):
    with httpx.Client(base_url=base_url) as client:
        ports = {client.get("/").text for _ in range(3)}
        assert len(ports) == 1  # a connection per call would show three client ports
        missing = client.get("/missing")
        assert missing.status_code == 404 and missing.headers["connection"] == "close"
        assert client.get("/").text not in ports  # a new connection after the closed one
