"""The fault drill: 200 orders per experiment placed and paid through the gateway by 8 shoppers at
once, one fault injected once 40 % of them are paid, then every paid order's effects counted in
the databases (order's status, payment's succeeded intents, logistics' shipments, member's points,
support's "paid" notices, analytics' order.paid count; tests/e2e/fault_load.py, the same load and
counting as tests/e2e/test_faults.py).

    python bench/fault_drill.py [orders] [threads] [experiment ...]

Experiments: postgres (a fast stop, 5 s down, start), rabbitmq (stop, 5 s, start), workers
(SIGKILL of all eight workers at once), apis (SIGKILL of every api process and the gateway at
once), kill:<process> (one process of the Procfile, e.g. kill:order-worker); all four by default.
The suite runs on a PostgreSQL cluster and a RabbitMQ node of its own (free ports, temp dirs): the
shared servers are never touched. Workers back off at most 2 s between tries of a database that is
away (MALL_WORKER_TRANSIENT_RETRY_SECONDS, 30 in production).

Per experiment: paid (orders the stand-in took money for), settled (paid orders with every effect),
lost (paid, not settled SETTLE_SECONDS after the load ended), doubled (paid orders with an effect
twice, plus order.paid counted more than once), dead letters parked meanwhile, orders left
`placing`, and the seconds from the fault's end until every paid order had settled. The last line
is the summary figure. Not a test; the machine is shared: timings are noisy.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.fault_load import (  # noqa: E402
    API_PROCESSES,
    WORKERS,
    Load,
    dead_letters,
    kill,
    private_mall,
    restart_postgres,
    restart_rabbit,
    wait_settled,
    why_no_private_servers,
)

SETTLE_SECONDS = 120
DEFAULT = ["postgres", "rabbitmq", "workers", "apis"]


def fault_of(name: str, mall, cluster, node):
    if name == "postgres":
        return lambda: restart_postgres(cluster)
    if name == "rabbitmq":
        return lambda: restart_rabbit(node)
    if name == "workers":
        return lambda: kill(mall, WORKERS)
    if name == "apis":
        return lambda: kill(mall, API_PROCESSES)
    if name.startswith("kill:") and name[5:] in mall.suite.commands:
        return lambda: kill(mall, [name[5:]])
    raise SystemExit(f"unknown experiment {name!r}: postgres, rabbitmq, workers, apis or "
                     f"kill:<one of {', '.join(mall.suite.commands)}>")


def parked(mall) -> int:
    return sum(len(lines) for lines in dead_letters(mall).values())


def experiment(mall, name: str, fault, orders: int, threads: int) -> dict:
    parked_before = parked(mall)
    load = Load(mall, orders, threads)
    started = time.monotonic()
    fault_ended, load_ended = load.run(fault, int(orders * 0.4))
    settled_at, found = wait_settled(mall, load, SETTLE_SECONDS)
    if settled_at is not None:
        time.sleep(2)  # a doubled effect would show now
        _, found = wait_settled(mall, load, 0)
    paid = len(found.paid)
    settled = sum(1 for o in found.paid if found.settled(o))
    doubled = sum(1 for o in found.paid if found.doubled(o)) + max(0, found.counted - paid)
    row = {"experiment": name, "paid": paid, "settled": settled, "lost": paid - settled,
           "doubled": doubled, "dead letters": parked(mall) - parked_before,
           "placing": found.placing, "refused": len(load.refused),
           "settle s": None if settled_at is None else round(settled_at - fault_ended, 1),
           "load s": round(load_ended - started, 1),
           "load after fault s": round(load_ended - fault_ended, 1)}
    settle = "never" if row["settle s"] is None else f"{row['settle s']} s"
    print(f"{name:>10}: paid {paid}, settled {settled}, lost {row['lost']}, doubled {doubled}, "
          f"dead letters {row['dead letters']}, still placing {found.placing}, refused "
          f"{len(load.refused)}; settled {settle} after the fault's end (the load ran "
          f"{row['load s']} s, {row['load after fault s']} s of it after the fault)", flush=True)
    if load.refused:
        print(f"{'':>12}first refusal: {load.refused[0][:300]}", flush=True)
    return row


def main(orders: int = 200, threads: int = 8, names: list[str] | None = None) -> None:
    why_not = why_no_private_servers()
    if why_not:
        raise SystemExit(f"no private PostgreSQL/RabbitMQ here: {why_not}")
    names = names or DEFAULT
    rows = []
    with tempfile.TemporaryDirectory(prefix="mall-fault-drill-") as tmp:
        with private_mall(Path(tmp)) as (mall, cluster, node):
            print(f"fault drill: {orders} orders by {threads} shoppers per experiment, the fault "
                  f"at 40 %; logs in {Path(tmp) / 'logs'}", flush=True)
            for name in names:
                rows.append(experiment(mall, name, fault_of(name, mall, cluster, node), orders,
                                       threads))
    total = {k: sum(r[k] for r in rows) for k in ("paid", "settled", "lost", "doubled",
                                                 "dead letters", "placing")}
    settles = [r["settle s"] for r in rows]
    slowest = "never" if None in settles else f"{max(settles):.1f} s"
    print(f"fault drill: {len(rows)} experiments ({', '.join(names)}), {total['paid']} paid, "
          f"{total['settled']} settled, {total['lost']} lost, {total['doubled']} doubled, "
          f"{total['dead letters']} dead letters, {total['placing']} left placing; slowest to "
          f"settle: {slowest} after its fault's end")


if __name__ == "__main__":
    args = sys.argv[1:]
    numbers = [int(a) for a in args if a.isascii() and a.isdigit()]
    main(*numbers[:2], names=[a for a in args if not (a.isascii() and a.isdigit())] or None)
