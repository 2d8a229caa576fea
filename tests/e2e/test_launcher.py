"""The launcher `make run` and the e2e harness share: it stops what it started, even processes
that ignore SIGTERM, tells deaths from deliberate stops, and restarts one process alone."""
from __future__ import annotations

import sys

import pytest

from deploy.local.launcher import ProcessDied, Suite, local_environment, procfile_commands
from servicekit.config import SERVICES

SLEEPER = f"{sys.executable} -c 'import time; print(\"up\", flush=True); time.sleep(60)'"


def make_suite(tmp_path, **commands: str) -> Suite:
    return Suite(commands, local_environment(), log_dir=tmp_path / "logs")


STAND_INS = {
    "wechat": "standins.wechat",
    "carrier": "standins.carrier",
    "wechatpay": "standins.wechatpay",
    "alipay": "standins.alipay",
    "card": "standins.card",
}


def test_the_procfile_runs_both_processes_of_every_service_the_import_part_the_gateway_and_the_stand_ins():
    commands = procfile_commands()
    for service in SERVICES:
        assert commands[f"{service}-api"] == f"python -m servicekit api {service}"
        assert commands[f"{service}-worker"] == f"python -m servicekit worker {service}"
    assert commands["order-import"] == "python -m servicekit api order --part import"
    assert commands["gateway"] == "python -m gateway"
    for name, module in STAND_INS.items():
        assert commands[name].startswith(f"python -m {module} --port "), name
    assert len(commands) == 2 * len(SERVICES) + 1 + 1 + len(STAND_INS)


def test_output_goes_to_one_log_per_process_and_stop_all_ends_everything(tmp_path):
    suite = make_suite(tmp_path, one=SLEEPER, two=SLEEPER)
    with suite:
        suite.start_all()
        suite.wait_until(lambda: "up" in suite.log_tail("one") and "up" in suite.log_tail("two"),
                         timeout=20, what="both processes to print")
    assert not suite.running("one") and not suite.running("two")
    assert suite.dead() == []


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    # An ignored signal stays ignored across exec, so the Python child ignores SIGTERM too.
    suite = make_suite(tmp_path, stubborn=f"trap '' TERM; {SLEEPER}")
    suite.start_all()
    suite.wait_until(lambda: "up" in suite.log_tail("stubborn"), timeout=20, what="start")
    suite.stop_all(grace=1.0)
    assert not suite.running("stubborn")
    assert suite.processes["stubborn"].returncode == -9


def test_a_killed_process_restarts_alone_while_the_others_keep_running(tmp_path):
    suite = make_suite(tmp_path, victim=SLEEPER, bystander=SLEEPER)
    with suite:
        suite.start_all()
        bystander_pid = suite.processes["bystander"].pid
        suite.kill("victim")
        assert not suite.running("victim")
        suite.check_alive()  # a deliberate kill is not a death
        suite.start("victim")
        assert suite.running("victim") and suite.running("bystander")
        assert suite.processes["bystander"].pid == bystander_pid


def test_a_process_that_exits_by_itself_is_reported_with_its_log(tmp_path):
    suite = make_suite(tmp_path, quitter="echo 'cannot bind port' && exit 3")
    with suite:
        suite.start_all()
        with pytest.raises(ProcessDied, match="cannot bind port"):
            suite.wait_until(lambda: False, timeout=20, what="never")


def test_without_a_log_dir_lines_reach_the_console_prefixed_with_their_process(tmp_path):
    import io

    console = io.StringIO()
    suite = Suite({"chatty": SLEEPER}, local_environment(), output=console)
    with suite:
        suite.start_all()
        suite.wait_until(lambda: "chatty | up" in console.getvalue(), timeout=20, what="output")
    assert "chatty started (pid=" in console.getvalue()


DRAINER = (f"{sys.executable} -c 'import signal, sys, time\n"
           "def drain(*_):\n    print(\"draining\", flush=True); time.sleep(0.5); sys.exit(0)\n"
           "signal.signal(signal.SIGTERM, drain); print(\"up\", flush=True); time.sleep(60)'")


def test_stop_lets_the_program_itself_drain_and_reports_its_own_exit_code(tmp_path):
    suite = make_suite(tmp_path, server=DRAINER)
    suite.start_all()
    suite.wait_until(lambda: "up" in suite.log_tail("server"), timeout=20, what="start")
    suite.stop_all(grace=5.0)
    assert "draining" in suite.log_tail("server")
    assert suite.processes["server"].returncode == 0  # the program's, not its shell's


LAUNCHER = """
import sys, time
from pathlib import Path
from deploy.local.launcher import Suite, local_environment
Suite({"child": sys.argv[1]}, local_environment(), log_dir=Path(sys.argv[2])).start_all()
time.sleep(60)
"""


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for whichever init adopted it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_the_processes_end_when_the_launcher_is_killed(tmp_path):
    import subprocess
    import time

    pid_file = tmp_path / "child.pid"
    child = (f"{sys.executable} -c 'import os, time; "
             f"open(\"{pid_file}\", \"w\").write(str(os.getpid())); time.sleep(60)'")
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, child, str(tmp_path / "logs")],
                                env=local_environment())
    try:
        deadline = time.monotonic() + 20
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        child_pid = int(pid_file.read_text())
    finally:
        launcher.kill()  # SIGKILL: no chance to stop its processes itself
        launcher.wait()
    deadline = time.monotonic() + 10
    while alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child_pid), "the child outlived its launcher"
