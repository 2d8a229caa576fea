"""`python -m gateway`: the gateway under uvicorn (MALL_GATEWAY_HOST / MALL_GATEWAY_PORT)."""
from __future__ import annotations

import uvicorn

from servicekit import logs, tracing
from servicekit.config import env

from .app import create_app
from .settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings.load()
    logs.setup("gateway", env("LOG_LEVEL", "INFO", "gateway") or "INFO")
    tracing.setup("gateway")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level="warning", access_log=False, proxy_headers=False)


if __name__ == "__main__":
    main()
