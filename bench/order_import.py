"""A 100,000-row CSV with 2% bad rows imported through the order-import gRPC service: the import
process (`python -m servicekit api order --part import`) runs as a subprocess on PostgreSQL with
its own database and RabbitMQ vhost (dropped at the end). The file is uploaded in 256 KB chunks
(client streaming) with policy import_valid, the job is followed to its end, and the report is
fetched and counted.

Orders have 1 to 3 lines; every 50th row is bad in one of five ways (quantity "二", a phone
of 5 digits, an unknown SKU, a negative price, an unreadable date), so 2,000 rows have errors
and their orders are not imported. Member runs too (its api process, its own database with
MEMBERS members whose phones are those of the first orders), so customers are matched as in a
deployment: one FindMembersByPhones call per batch. Peak RSS is the import process's VmHWM from
/proc.

The consuming workers (analytics, logistics, member) do not run, but their order.imported_batch
queues are declared and bound as their workers would (servicekit.testing.declare_subscriber_queues),
so the broker routes the relay's events as in a deployment rather than returning each one as
unroutable; after the job the bench reads one queue's events until they carry every imported
order, and checks the other queues hold as many events.

Last line: import rows=100000 rows_per_s=N peak_rss_mb=N errors_reported=N imported_orders=N
(target: rows_per_s >= 5000, peak_rss_mb < 300, errors_reported = the bad rows, 2000)
"""
from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
MEMBERS = 500
BAD_EVERY = 50
SKUS = [(f"sku-{n}", f"CODE-{n:03d}", 9900 + n * 100) for n in range(40)]
BAD = [("quantity", "二"), ("phone", "12345"), ("sku_code", "NO-SUCH-SKU"),
       ("unit_price", "-1"), ("order_time", "昨天")]


def seed() -> None:
    from servicekit import service
    from services.order.models import ProductSku

    rt = service.runtime("order")
    now = datetime.now(timezone.utc)
    with rt.transaction() as session:
        for sku_id, code, price in SKUS:
            session.add(ProductSku(sku_id=sku_id, product_id="p-" + sku_id, title="无钢圈文胸",
                                   attributes={"size": "75B"}, price_fen=price, published=True,
                                   code=code, category_ids=["c-bra"], product_version=1,
                                   updated_at=now))
    rt.dispose()


def phone_of(order: int) -> str:
    return f"138{order % 100000000:08d}"


def seed_members() -> None:
    """MEMBERS members with the phones of orders 1, 2, ... (through member's own profile code)."""
    from servicekit import service
    from services.member.testing import add_members

    rt = service.runtime("member")
    add_members(rt, [phone_of(order) for order in range(1, MEMBERS + 1)])
    rt.dispose()


def members_matched(job_id: str) -> int:
    from sqlalchemy import func, select

    from servicekit import service
    from services.order.models import Order

    rt = service.runtime("order")
    with rt.transaction() as session:
        matched = session.scalar(select(func.count()).select_from(Order).where(
            Order.import_batch_id == job_id, Order.member_id != ""))
    rt.dispose()
    return matched


def write_file(path: Path) -> int:
    """The CSV (UTF-8, the template's headers); returns how many rows are bad."""
    from services.order.importing.columns import COLUMNS

    names = [c.name for c in COLUMNS]
    bad = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([c.header for c in COLUMNS])
        row, order = 0, 0
        while row < ROWS:
            order += 1
            lines = min(1 + order % 3, ROWS - row)
            for n in range(lines):
                row += 1
                sku_id, code, price = SKUS[(order + n) % len(SKUS)]
                values = {"external_order_id": f"BENCH-{order:07d}",
                          "order_time": f"2026-11-{1 + order % 20:02d} 10:{order % 60:02d}:00",
                          "status": ("已付款", "已发货", "已完成")[order % 3],
                          "recipient": "张三", "phone": phone_of(order),
                          "province": "广东省", "city": "深圳市", "district": "南山区",
                          "detail": f"科技园路 {order} 号", "sku_code": code,
                          "quantity": str(1 + n), "unit_price": f"{price / 100:.2f}"}
                if row % BAD_EVERY == 0:
                    field, value = BAD[(row // BAD_EVERY) % len(BAD)]
                    values[field] = value
                    bad += 1
                writer.writerow([values.get(name, "") for name in names])
    return bad


def peak_rss_mb(pid: int) -> float:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmHWM:"):
            return int(text.split()[1]) / 1024
    return 0.0


def run_import(target: str, path: Path) -> tuple[object, float, int]:
    from mall.order.v1 import order_import_pb2 as pb
    from mall.order.v1 import order_import_pb2_grpc

    from servicekit import grpc_client

    stub = order_import_pb2_grpc.OrderImportStub(
        grpc_client.channel("order", target=target, timeout_seconds=600))
    staff = [("x-mall-user-id", "bench"), ("x-mall-roles", "admin")]

    def chunks():
        yield pb.UploadChunk(meta=pb.UploadMeta(filename=path.name, partner="bench-erp",
                                                error_policy="import_valid"))
        with open(path, "rb") as f:
            while data := f.read(256 * 1024):
                yield pb.UploadChunk(data=data)

    started = time.perf_counter()
    job = stub.UploadFile(chunks(), metadata=staff)
    while not job.finished:
        time.sleep(0.2)
        job = stub.GetImportJob(pb.GetImportJobRequest(job_id=job.job_id), metadata=staff)
    seconds = time.perf_counter() - started
    report = b"".join(c.data for c in stub.GetImportReport(
        pb.GetImportReportRequest(job_id=job.job_id, problems_only=True), metadata=staff))
    return job, seconds, count_reported(report)


def count_reported(report: bytes) -> dict[str, int]:
    """Rows of the problems-only report by status: "error" (a row with errors of its own) and
    "blocked" (a good row whose order has a bad row) are told apart by the exact status word."""
    from services.order.importing.report import OWN_COLUMNS, STATUS_WORDS

    words = {word: status for status, word in STATUS_WORDS.items()}
    rows = csv.reader(io.StringIO(report.decode("utf-8-sig"), newline=""))
    next(rows)  # the summary line
    status_at = next(rows).index(OWN_COLUMNS[1])
    counts: dict[str, int] = {}
    for row in rows:
        if row:
            status = words[row[status_at]]
            counts[status] = counts.get(status, 0) + 1
    return counts


def orders_routed(queues: list[str], expected: int, timeout: float = 120.0) -> tuple[int, dict]:
    """Reads the first queue's order.imported_batch events until they carry `expected` orders
    (or time runs out): (orders carried, the batch events each queue holds)."""
    import json

    import pika

    connection = pika.BlockingConnection(pika.URLParameters(os.environ["MALL_AMQP_URL"]))
    try:
        channel = connection.channel()
        orders, batches, deadline = 0, 0, time.monotonic() + timeout
        while orders < expected and time.monotonic() < deadline:
            method, _, body = channel.basic_get(queues[0], auto_ack=True)
            if method is None:
                time.sleep(0.2)
                continue
            orders += len(json.loads(body)["data"]["orders"])
            batches += 1
        held = {q: channel.queue_declare(q, passive=True).method.message_count for q in queues[1:]}
        return orders, {queues[0]: batches, **held}
    finally:
        connection.close()


def main() -> None:
    from servicekit import testing

    testing.prepare_environment()
    os.environ["MALL_LOG_LEVEL"] = "WARNING"
    api = member = None
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        testing.ensure_database("order")
        testing.ensure_database("member")
        seed()
        seed_members()
        queues = testing.declare_subscriber_queues("order", "order.imported_batch")
        path = folder / "orders.csv"
        bad = write_file(path)
        print(f"file: {ROWS} rows, {bad} bad, {path.stat().st_size / 1e6:.1f} MB")
        member = testing.ApiProcess("member").start()
        api = testing.ApiProcess("order", part="import", port_setting="IMPORT_GRPC_PORT",
                                 extra_env={"MALL_MEMBER_GRPC_TARGET": member.target,
                                            "MALL_ORDER_IMPORT_SPOOL_DIR": str(folder)}).start()
        job, seconds, by_status = run_import(api.target, path)
        rss = peak_rss_mb(api.proc.pid)
        orders, batches = orders_routed(queues, job.counts.orders_imported)
        print(f"order.imported_batch events per subscriber queue: {batches}, carrying {orders} orders")
        if orders != job.counts.orders_imported or len(set(batches.values())) != 1:
            print(f"WARNING: {job.counts.orders_imported} orders imported, {orders} in events")
        print(f"customers matched to members: {members_matched(job.job_id)} "
              f"(members with the phones of orders 1-{MEMBERS}, some of them bad)")
        reported = by_status.get("error", 0)
        print(f"job {job.status} in {seconds:.1f}s: {job.counts}".replace("\n", " "))
        print(f"report rows by status: {by_status}")
        if reported != bad or job.counts.rows_error != bad:
            print(f"WARNING: {bad} bad rows, {job.counts.rows_error} counted, {reported} reported")
        print(f"import rows={job.counts.rows_total} rows_per_s={job.counts.rows_total / seconds:.0f} "
              f"peak_rss_mb={rss:.0f} errors_reported={reported} "
              f"imported_orders={job.counts.orders_imported}")
    finally:
        for process in (api, member):
            if process:
                process.stop()
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
        testing.teardown_environment()


if __name__ == "__main__":
    main()
