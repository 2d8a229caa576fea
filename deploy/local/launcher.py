"""Starts the processes of deploy/local/Procfile and keeps hold of them.

One piece of code for `make run` and the end-to-end tests. The Procfile is read with honcho's
parser and `make run`'s output goes through honcho's printer (coloured, prefixed lines); the
processes themselves are held here rather than by honcho's Manager, because the tests must kill
and restart one of them while the others keep running, which the Manager cannot do.
"""
from __future__ import annotations

import datetime
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, TextIO

import httpx
from honcho.colour import get_colours
from honcho.environ import parse_procfile
from honcho.printer import Message, Printer

from servicekit.config import REPO_ROOT

from .devkeys import ensure_payment_keys

PROCFILE = Path(__file__).resolve().with_name("Procfile")
STOP_GRACE_SECONDS = 10.0


def procfile_commands(path: Path = PROCFILE) -> dict[str, str]:
    """Process name -> shell command, in the Procfile's order."""
    return dict(parse_procfile(path.read_text()).processes)


def local_environment(base: dict[str, str] | None = None, **overrides: str) -> dict[str, str]:
    """The environment every process of the suite runs with on one machine."""
    env = dict(os.environ if base is None else base)
    venv_bin = str(Path(sys.executable).parent)  # the Procfile says `python`: ours, the venv's
    env.update({
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'gen'}",
        "PYTHONUNBUFFERED": "1",  # lines reach the console as they are written
        # Libraries' import-time deprecation notices (eventlet, jieba's pkg_resources), repeated
        # by every process, would bury the suite's own lines.
        "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore:pkg_resources is deprecated:UserWarning",
        "MALL_WECHAT_API_BASE": "http://127.0.0.1:8090",
        "MALL_MEDIA_ROOT": "var/media",
        # The WeChat stand-in accepts any template id: demo ids let `make run` show the pushes.
        **{f"MALL_MEMBER_WECHAT_TEMPLATE_{kind}": f"demo-{kind.lower()}" for kind in (
            "ORDER_CREATED", "ORDER_PAID", "ORDER_CANCELLED", "ORDER_PARTLY_SHIPPED",
            "ORDER_SHIPPED", "ORDER_DELIVERED", "ORDER_COMPLETED", "ORDER_REFUNDED",
            "ORDER_PARTLY_REFUNDED", "COUPON_EXPIRING", "POINTS_REDEMPTION_FAILED",
            "ORDER_DEPOSIT_PAID", "ORDER_BALANCE_DUE")},
        # a coupon reminder or a points notice names no order: its template has no order number key
        "MALL_MEMBER_WECHAT_TEMPLATE_COUPON_EXPIRING_KEYS": "title=thing1,body=thing3,time=time4",
        "MALL_MEMBER_WECHAT_TEMPLATE_POINTS_REDEMPTION_FAILED_KEYS": "title=thing1,body=thing3,time=time4",
    })
    env.update(overrides)
    ensure_payment_keys(env)  # payment's provider keys, generated into var/ on first start
    return env


def migrate_all(env: dict[str, str], *, say: Callable[[str], None] = print) -> None:
    """Upgrades every service's database to head, in the suite's environment."""
    say("migrating every service's database (python -m servicekit migrate all) ...")
    done = subprocess.run([sys.executable, "-m", "servicekit", "migrate", "all"], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"migration failed ({done.returncode}):\n{done.stdout}{done.stderr}")


_NOT_EXECUTABLE = {"trap", "if", "for", "while", "until", "case", "cd", "export", "{", "!"}


def shell_command(command: str) -> str:
    """`exec` a simple command, so the process we signal and wait for is the program itself
    (dash does not exec the last command of `sh -c` by itself: its exit would hide the child's).
    A compound command (`a; b`, `a && b`, a pipe ...) is left to its shell."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: let the shell say so
        return command
    if not tokens or tokens[0] in _NOT_EXECUTABLE or "=" in tokens[0]:
        return command
    if any(t and set(t) <= set(";&|()") for t in tokens):
        return command
    return f"exec {command}"


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM when the launcher dies (even by SIGKILL), so a
    crashed `make run` or test session leaves no suite behind. Linux only; elsewhere a no-op.
    Linux counts the *thread* that started the child as its parent: start processes from a
    thread that lives as long as the suite (the main thread, as run.py and the tests do)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ProcessDied(RuntimeError):
    pass


class Suite:
    """The running processes. Output goes to `output` through honcho's printer, or, when
    `log_dir` is given, to one file per process (what the tests read when something fails)."""

    def __init__(self, commands: dict[str, str], env: dict[str, str], *,
                 cwd: Path = REPO_ROOT, output: TextIO = sys.stdout, log_dir: Path | None = None):
        self.commands = commands
        self.env = env
        self.cwd = cwd
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self._stopping: set[str] = set()  # names stopped on purpose: not reported as deaths
        self._printer = Printer(output, width=max(map(len, [*commands, "system"])))
        self._print_lock = threading.Lock()
        self._colours = dict(zip(commands, get_colours(), strict=False))  # colours cycle

    # --- output -------------------------------------------------------------------------------
    def say(self, text: str, name: str = "system") -> None:
        with self._print_lock:
            self._printer.write(Message(type="line", data=text + "\n", name=name,
                                        time=datetime.datetime.now(),
                                        colour=self._colours.get(name)))

    def _pump(self, name: str, stream) -> None:
        for line in iter(stream.readline, b""):
            with self._print_lock:
                self._printer.write(Message(type="line", data=line, name=name,
                                            time=datetime.datetime.now(),
                                            colour=self._colours.get(name)))
        stream.close()

    def log_path(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir else None

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_path(name)
        if path is None or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # --- lifecycle ----------------------------------------------------------------------------
    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def start(self, name: str) -> None:
        if self.running(name):
            raise RuntimeError(f"{name} is already running")
        self._stopping.discard(name)
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_path(name), "ab") as log:  # appended: a restart keeps the history
                proc = self._spawn(name, stdout=log)
        else:
            proc = self._spawn(name, stdout=subprocess.PIPE)
            threading.Thread(target=self._pump, args=(name, proc.stdout), daemon=True).start()
        self.processes[name] = proc
        self.say(f"{name} started (pid={proc.pid})")

    def _spawn(self, name: str, stdout) -> subprocess.Popen:
        # Own session per process: a signal reaches the whole group (the shell and its child),
        # and Ctrl-C in the terminal reaches only us, so we stop everyone in order.
        return subprocess.Popen(shell_command(self.commands[name]), shell=True, cwd=self.cwd,
                                env=self.env, stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent)

    def running(self, name: str) -> bool:
        proc = self.processes.get(name)
        return proc is not None and proc.poll() is None

    def signal(self, name: str, signum: int) -> None:
        proc = self.processes[name]
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self, name: str) -> None:
        """SIGKILL, no chance to clean up: what a crash looks like."""
        self._stopping.add(name)
        self.signal(name, signal.SIGKILL)
        self.processes[name].wait(timeout=STOP_GRACE_SECONDS)
        self.say(f"{name} killed")

    def stop(self, name: str, grace: float = STOP_GRACE_SECONDS) -> None:
        self._stop_many([name], grace)

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._stop_many(list(self.processes), grace)

    def _stop_many(self, names: list[str], grace: float) -> None:
        alive = [n for n in names if self.running(n)]
        self._stopping.update(names)
        for name in alive:
            self.signal(name, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name in alive:
            try:
                self.processes[name].wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{name} did not stop in {grace:.0f}s: SIGKILL")
                self.signal(name, signal.SIGKILL)
                self.processes[name].wait(timeout=5)
            self._wait_group_gone(name, deadline)
            self.say(f"{name} stopped (rc={self.processes[name].returncode})")

    def _wait_group_gone(self, name: str, deadline: float) -> None:
        """A compound command's children outlive its shell: they get until `deadline`, then SIGKILL."""
        pgid = self.processes[name].pid
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        self.signal(name, signal.SIGKILL)

    def dead(self) -> list[str]:
        """Processes that exited without being asked to."""
        return [n for n, p in self.processes.items()
                if p.poll() is not None and n not in self._stopping]

    def check_alive(self) -> None:
        dead = self.dead()
        if dead:
            details = "\n".join(f"--- {n} exited with {self.processes[n].returncode}\n"
                                f"{self.log_tail(n)}" for n in dead)
            raise ProcessDied(f"{', '.join(dead)} exited:\n{details}")

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str,
                   interval: float = 0.25) -> None:
        """Polls `predicate` until true; fails early if a process of the suite dies meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                if predicate():
                    return
            except Exception:  # not up yet: connection refused, 503 ...
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)

    def wait_http_ok(self, url: str, timeout: float = 90.0) -> None:
        self.wait_until(lambda: httpx.get(url, timeout=2.0).status_code == 200, timeout, url)

    def watch(self) -> str:
        """Blocks until a process exits on its own; returns its name."""
        while True:
            dead = self.dead()
            if dead:
                return dead[0]
            time.sleep(0.5)

    def __enter__(self) -> "Suite":
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()
