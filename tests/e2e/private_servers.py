"""A PostgreSQL cluster and a RabbitMQ node of a test's own, on free ports in a temp dir, that
the test may stop and start (the shared servers on 5432 and 5672 are never touched)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from servicekit.ports import free_port


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """initdb into a temp dir of its own, trust authentication, listening on 127.0.0.1:<free
    port>. PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user
    (and lives straight under the temp root, which that user can reach; pytest's tmp_path is
    private to root)."""

    def __init__(self):
        self.bin = _postgres_bin()
        self.directory = Path(tempfile.mkdtemp(prefix="mall-fault-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
                self.user = "postgres"
            except KeyError:
                self.user = None

    def available(self) -> str | None:
        """None when it can run here, else why not."""
        if self.bin is None:
            return "no PostgreSQL server binaries (initdb, pg_ctl)"
        if os.geteuid() == 0 and self.user is None:
            return "running as root without a postgres user to own the cluster"
        return None

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        assert self.bin is not None, self.available()
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        if self.user:
            shutil.chown(self.directory, self.user)
            os.chmod(self.directory, 0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync", timeout=120)
        self.start()

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
                   "-c max_connections=200 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", "60", "start", timeout=90)

    def stop(self, mode: str = "fast") -> None:
        """`fast`: what a restart does: sessions are told "the database system is shutting down"
        and cut off."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", timeout=90)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRabbit:
    """A RabbitMQ node of its own (`rabbit-fault-<port>@localhost`), guest/guest on a free port,
    with a config file of its own (the machine's names 5672). As root, rabbitmq-server runs as
    the `rabbitmq` user, which must own its directory."""

    def __init__(self):
        self.directory = Path(tempfile.mkdtemp(prefix="mall-fault-rabbit-"))
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"rabbit-fault-{self.port}@localhost"
        self.server = shutil.which("rabbitmq-server") or ""
        self.ctl = shutil.which("rabbitmqctl") or ""

    def available(self) -> str | None:
        if not (self.server and self.ctl):
            return "no rabbitmq-server"
        return None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.directory / "log"),
                "RABBITMQ_PID_FILE": str(self.directory / "rabbit.pid"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(self.directory / "rabbitmq.conf")}

    def start(self) -> None:
        (self.directory / "enabled_plugins").write_text("[].\n")
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n")
        if os.geteuid() == 0:
            os.chmod(self.directory, 0o755)
            for path in [self.directory, *self.directory.rglob("*")]:
                shutil.chown(path, "rabbitmq", "rabbitmq")
        env = self._env()
        subprocess.run([self.server, "-detached"], env=env, capture_output=True, timeout=60,
                       check=True)
        subprocess.run([self.ctl, "-n", self.node, "wait", "--timeout", "90",
                        str(self.directory / "rabbit.pid")], env=env,
                       capture_output=True, timeout=120, check=True)

    def stop(self) -> None:
        subprocess.run([self.ctl, "-n", self.node, "stop"], env=self._env(), capture_output=True,
                       timeout=90)
        time.sleep(0.5)

    def kill(self) -> None:
        """SIGKILL of the node's VM: its clients' sockets die without a connection.close."""
        pid_file = self.directory / "rabbit.pid"
        pid = int(pid_file.read_text().strip())
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        pid_file.unlink(missing_ok=True)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def rabbit_or_skip():
    """A started private RabbitMQ node for a pytest fixture to yield (destroyed after), or the test
    skipped with the reason there is none."""
    import pytest

    node = PrivateRabbit()
    why_not = node.available()
    if why_not:
        pytest.skip(f"no private RabbitMQ node: {why_not}")
    node.start()
    try:
        yield node
    finally:
        node.destroy()
