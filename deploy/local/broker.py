"""Makes sure RabbitMQ answers at MALL_AMQP_URL, starting the local one if it is installed."""
from __future__ import annotations

import shutil
import subprocess
import time
from urllib.parse import urlsplit

import pika
import pika.exceptions

from servicekit.config import env

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
INSTALL_HINT = ("RabbitMQ is needed. On Debian/Ubuntu: `sudo apt-get install rabbitmq-server` "
                "(it starts by itself), or point MALL_AMQP_URL at a broker you have.")


def amqp_url() -> str:
    return env("AMQP_URL", DEFAULT_AMQP_URL)


def broker_answers(url: str) -> bool:
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 2
    params.blocked_connection_timeout = 2
    try:
        pika.BlockingConnection(params).close()
        return True
    except pika.exceptions.AMQPError:
        return False
    except OSError:
        return False


class BrokerUnavailable(RuntimeError):
    pass


def ensure_broker(url: str, *, say=print, timeout: float = 90.0) -> None:
    """Returns once the broker answers; raises BrokerUnavailable with what to do otherwise."""
    if broker_answers(url):
        return
    server = shutil.which("rabbitmq-server")
    if server is None:
        raise BrokerUnavailable(f"No broker answers at {redact(url)}. {INSTALL_HINT}")
    say(f"No broker answers at {redact(url)}: starting `rabbitmq-server -detached` ...")
    started = subprocess.run([server, "-detached"], capture_output=True, text=True)
    if started.returncode != 0:
        raise BrokerUnavailable(f"`rabbitmq-server -detached` failed ({started.returncode}): "
                                f"{started.stderr.strip() or started.stdout.strip()}. "
                                "Starting it may need root: `sudo rabbitmq-server -detached`.")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker_answers(url):
            say("RabbitMQ is up.")
            return
        time.sleep(1.0)
    raise BrokerUnavailable(f"rabbitmq-server was started but {redact(url)} still does not answer "
                            f"after {timeout:.0f}s; see `rabbitmqctl status`.")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 5672}{parts.path or '/'}"
