"""CPU seconds spent by each process of a running suite, and by PostgreSQL and RabbitMQ, between
two snapshots: where a benchmark's time goes, read from /proc (Linux only)."""
from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[str, int, int, float] | None:
    """(command name, process group, parent pid, user+system seconds) of one process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1: raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[1] ppid, [2] pgrp, [11] utime, [12] stime (stat(5), counted from field 3)
    return name, int(fields[2]), int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def snapshot(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process group, of PostgreSQL, of RabbitMQ and of this
    process. Exited children are not counted: take both snapshots while the processes live."""
    by_group = {pgid: name for name, pgid in groups.items()}
    totals: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _stat(pid)
        if stat is None:
            continue
        command, pgid, _, seconds = stat
        if pgid in by_group:
            key = by_group[pgid]
        elif command.startswith("postgres"):
            key = "postgresql"
        elif command in ("beam.smp", "erl_child_setup", "epmd", "inet_gethost"):
            key = "rabbitmq"
        else:
            continue
        totals[key] = totals.get(key, 0.0) + seconds
    own = os.times()  # the benchmark's own client threads share the same cores
    totals["benchmark client"] = own.user + own.system
    return totals


def report(before: dict[str, float], after: dict[str, float], per: int, unit: str) -> str:
    """One line per process, the busiest first: CPU ms per unit of work."""
    spent = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    lines = [f"cpu_ms_per_{unit} {key}={seconds * 1000 / per:.1f}"
             for key, seconds in sorted(spent.items(), key=lambda kv: -kv[1]) if seconds > 0]
    lines.append(f"cpu_ms_per_{unit} total={sum(spent.values()) * 1000 / per:.1f}")
    return "\n".join(lines)

