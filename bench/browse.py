"""Shopper browsing through the gateway: a page of 20 products against a no-op route, same load
generator, same run, 32 concurrent keep-alive connections.

Starts what it needs as subprocesses (the catalog api on a temporary database seeded with ~40
published products, the gateway under uvicorn) and stops them all at the end. The load
generator is a small asyncio HTTP/1.1 client of its own, run in a separate process, bounded in
requests and in time. An informational line measures the listing with the gateway's listing
cache turned off.

The routes are driven in interleaved rounds (no-op, listing, listing with the cache off, three
times): the ratio is the median of the rounds' listing/no-op ratios, the rates and percentiles
are over every request of the rounds.

With BENCH_SALES=1, two sales are in catalog's read model while it runs (a store-wide 8 折
excluding a category, so every page also reads its function facets, and a flash sale on some
SKUs): every card then carries its sale, computed at read time.

Last line: browse list_rps=N noop_rps=N ratio=R p50_ms=N p99_ms=N   (target: ratio >= 0.5)
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from servicekit.ports import free_port  # noqa: E402  (after the path above)

CONNECTIONS = 32
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))  # per route, over all rounds
ROUNDS = 3
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "50000"))
PRODUCTS = 40
LIST_PATH = "/v1/products?page_size=20"
NOOP_PATH = "/healthz"
PG_ADMIN_URL = os.environ.get("MALL_TEST_PG_ADMIN_URL",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


# ---------------------------------------------------------------- the load generator

async def _connection(host: str, port: int, path: str, stop_at: float, budget: list[int],
                      latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(str(status))
    finally:
        writer.close()


async def _load(url: str, connections: int, seconds: float, max_requests: int) -> dict:
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors: list[str] = []
    budget = [max_requests]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(parts.hostname, parts.port, path, started + seconds,
                                       budget, latencies, errors) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0

    return {"requests": len(latencies), "errors": len(errors), "seconds": elapsed,
            "rps": len(latencies) / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "error_statuses": sorted(set(errors))[:5],
            "latencies_ms": [round(x * 1000, 2) for x in latencies]}


def pooled(runs: list[dict]) -> dict:
    """Requests a second over all rounds, percentiles over every request of them."""
    latencies = sorted(x for run in runs for x in run["latencies_ms"])
    seconds = sum(run["seconds"] for run in runs)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else 0.0

    return {"requests": len(latencies), "rps": len(latencies) / seconds,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


def load_main(args) -> None:
    print(json.dumps(asyncio.run(_load(args.url, args.connections, args.seconds,
                                       args.max_requests))))


def drive(url: str, seconds: float = SECONDS) -> dict:
    """Runs the load generator in its own process (so it does not share our interpreter)."""
    out = subprocess.run([sys.executable, __file__, "load", "--url", url,
                          "--connections", str(CONNECTIONS), "--seconds", str(seconds),
                          "--max-requests", str(MAX_REQUESTS)],
                         capture_output=True, text=True, timeout=seconds + 60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"{url}: {result['errors']} failed requests {result['error_statuses']}")
    return result


# ---------------------------------------------------------------- what the benchmark starts

def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Stack:
    """Everything the benchmark started, so that everything is stopped whatever happens."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="mall-bench-browse-"))
        self.procs: list[subprocess.Popen] = []
        self.database = ""
        self.vhost = ""
        self.env = {**os.environ,
                    "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen")]),
                    "MALL_VAR_DIR": str(self.tmp / "var"),
                    "MALL_MEDIA_ROOT": str(self.tmp / "media"),
                    "MALL_JWT_SECRET": "bench-secret-" + "x" * 32,
                    "MALL_API_METRICS_PORT": "0", "MALL_WORKER_METRICS_PORT": "0",
                    "MALL_DRAIN_SECONDS": "0", "MALL_LOG_LEVEL": "WARNING"}

    # -- database and broker of this run only
    def make_database(self) -> None:
        if port_open(5432):
            from sqlalchemy import create_engine, text
            self.database = f"mall_bench_catalog_{os.getpid()}"
            engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{self.database}"'))
            engine.dispose()
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.database
        else:
            url = f"sqlite:///{self.tmp / 'catalog.db'}"
        self.env["MALL_CATALOG_DATABASE_URL"] = url
        base = os.environ.get("MALL_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
        vhost = f"mall_bench_{os.getpid()}"
        ctl = shutil.which("rabbitmqctl")
        if ctl and all(subprocess.run([ctl, *a], capture_output=True, timeout=60).returncode == 0
                       for a in (["add_vhost", vhost],
                                 ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"])):
            self.vhost = vhost
            self.env["MALL_AMQP_URL"] = f"{base}/{vhost}"

    def start(self, *args: str, env: dict | None = None, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**self.env, **(env or {})},
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def catalog(self) -> str:
        subprocess.run([sys.executable, "-m", "servicekit", "migrate", "catalog"], cwd=ROOT,
                       env=self.env, check=True, capture_output=True, timeout=120)
        port = free_port()
        self.start("-m", "servicekit", "api", "catalog", name="catalog",
                   env={"MALL_CATALOG_GRPC_PORT": str(port)})
        target = f"127.0.0.1:{port}"
        self._wait_serving(target)
        return target

    def _wait_serving(self, target: str, timeout: float = 60) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if any(p.poll() is not None for p in self.procs):
                    break
                time.sleep(0.2)
        raise RuntimeError(f"catalog did not become SERVING:\n{self.log('catalog')}")

    def gateway(self, catalog_target: str, name: str, **env: str) -> str:
        port = free_port()
        self.start("-m", "gateway", name=name, env={
            "MALL_GATEWAY_PORT": str(port), "MALL_GATEWAY_HOST": "127.0.0.1",
            "MALL_CATALOG_GRPC_TARGET": catalog_target,
            "MALL_GATEWAY_READY_SERVICES": "catalog", **env})
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        return url
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the gateway did not become ready:\n{self.log(name)}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.database:
            from sqlalchemy import create_engine, text
            engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            engine.dispose()
        if self.vhost:
            subprocess.run([shutil.which("rabbitmqctl"), "delete_vhost", self.vhost],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- the shop

def _png(index: int) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (600, 800), (40 + index * 5 % 200, 80, 120)).save(out, "PNG")
    return out.getvalue()


def seed(target: str) -> int:
    """The catalog engineer's demo seed when it exists, topped up to PRODUCTS published products
    through the admin API; returns how many products shoppers see."""
    from mall.catalog.v1 import catalog_pb2 as pb
    from mall.catalog.v1 import catalog_pb2_grpc
    from mall.common.v1 import common_pb2

    from servicekit import context, grpc_client

    context.set_current(context.CallContext(user_id="bench-seed", roles=("admin",)))
    channel = grpc_client.channel("catalog", target=target, timeout_seconds=30)
    try:
        seed_catalog = importlib.import_module("deploy.local.seed_catalog")
    except ModuleNotFoundError as err:
        if err.name != "deploy.local.seed_catalog":
            raise
    else:
        seed_catalog.seed(channel)
    shop = catalog_pb2_grpc.CatalogServiceStub(channel)
    admin = catalog_pb2_grpc.CatalogAdminServiceStub(channel)

    def visible() -> int:
        count, token = 0, ""
        while True:
            page = shop.ListProducts(pb.ListProductsRequest(
                page=common_pb2.PageRequest(page_size=100, page_token=token)))
            count += len(page.products)
            token = page.page.next_page_token
            if not token:
                return count

    missing = PRODUCTS - visible()
    if missing > 0:
        style = admin.CreateCategory(pb.CreateCategoryRequest(category=pb.CategoryInput(
            kind=pb.STYLE, name=f"基准文胸 {os.getpid()}")))
        for i in range(missing):
            product = admin.CreateProduct(pb.CreateProductRequest(
                product=pb.ProductInput(title=f"云感无钢圈文胸 {i}", subtitle="软支撑 全天舒适",
                                        category_id=style.id, size_system=pb.BRA),
                skus=[pb.SkuInput(code=f"B{os.getpid()}-{i}-{band}{cup}-{c}", band=band, cup=cup,
                                  colour=colour, price_fen=9900 + i * 100)
                      for band in (70, 75, 80) for cup in ("A", "B")
                      for c, colour in enumerate(("黑色", "肤色"))]))
            admin.UploadMedia(iter([
                pb.UploadMediaRequest(header=pb.UploadMediaHeader(
                    product_id=product.id, kind=pb.IMAGE, angle=pb.FRONT, filename="f.png")),
                pb.UploadMediaRequest(data=_png(i))]))
            admin.PublishProduct(pb.ProductIdRequest(product_id=product.id))
    count = visible()
    channel.close()
    return count


def add_sales(database_url: str) -> int:
    """Two sales in catalog's read model, as campaign.changed would leave them (on now)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from services.catalog.models import SaleCampaign, Sku

    now = datetime.now(timezone.utc)
    engine = create_engine(database_url)
    with Session(engine) as session, session.begin():
        skus = session.scalars(select(Sku.id).order_by(Sku.id).limit(10)).all()
        for campaign_id, kind, terms in (
                ("bench-1", "sale", {"scope": "all", "ids": [], "percent": 80, "items": {},
                                     "exclude_category_ids": ["not-a-category"],
                                     "exclude_product_ids": [], "exclude_sku_ids": []}),
                ("bench-2", "flash_sale", {"scope": "skus", "ids": [], "percent": 0,
                                           "items": {s: [5900, 0] for s in skus},
                                           "exclude_category_ids": [], "exclude_product_ids": [],
                                           "exclude_sku_ids": []})):
            session.add(SaleCampaign(
                campaign_id=campaign_id, version=1, kind=kind, status="active", name=campaign_id,
                starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
                terms=json.dumps({"weekdays": [], "start_minute": 0, "end_minute": 0, **terms}),
                updated_at=now))
    engine.dispose()
    return 2


def main() -> None:
    stack = Stack()
    try:
        stack.make_database()
        catalog = stack.catalog()
        products = seed(catalog)
        if os.environ.get("BENCH_SALES") == "1":
            print(f"sales in the read model: {add_sales(stack.env['MALL_CATALOG_DATABASE_URL'])}")
        cached = stack.gateway(catalog, "gateway")
        uncached = stack.gateway(catalog, "gateway-uncached", MALL_GATEWAY_LISTING_CACHE_SECONDS="0")
        for url in (cached, uncached):  # warm connections, caches and code paths
            drive(url + LIST_PATH, seconds=1)
            drive(url + NOOP_PATH, seconds=1)
        # Interleaved rounds: the machine is shared, and drift should hit both routes alike.
        noops, lists, raws = [], [], []
        for _ in range(ROUNDS):
            noops.append(drive(cached + NOOP_PATH, SECONDS / ROUNDS))
            lists.append(drive(cached + LIST_PATH, SECONDS / ROUNDS))
            raws.append(drive(uncached + LIST_PATH, SECONDS / ROUNDS))
        noop, listing, raw = pooled(noops), pooled(lists), pooled(raws)
        ratios = [lst["rps"] / n["rps"] for lst, n in zip(lists, noops, strict=True)]
        raw_ratios = [r["rps"] / n["rps"] for r, n in zip(raws, noops, strict=True)]
        print(f"browse products={products} connections={CONNECTIONS} rounds={ROUNDS} "
              f"seconds_per_route={SECONDS:g} noop_requests={noop['requests']} "
              f"list_requests={listing['requests']} round_ratios="
              + ",".join(f"{r:.2f}" for r in ratios))
        print(f"browse(listing cache off, informational) list_rps={raw['rps']:.0f} "
              f"ratio={statistics.median(raw_ratios):.2f} p50_ms={raw['p50_ms']:.1f} "
              f"p99_ms={raw['p99_ms']:.1f}")
        print(f"browse list_rps={listing['rps']:.0f} noop_rps={noop['rps']:.0f} "
              f"ratio={statistics.median(ratios):.2f} p50_ms={listing['p50_ms']:.1f} "
              f"p99_ms={listing['p99_ms']:.1f}")
    except Exception:
        for name in ("catalog", "gateway", "gateway-uncached"):
            print(f"---- {name} log (tail)\n{stack.log(name)[-1500:]}", file=sys.stderr)
        raise
    finally:
        stack.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        parser = argparse.ArgumentParser()
        parser.add_argument("load")
        parser.add_argument("--url", required=True)
        parser.add_argument("--connections", type=int, default=CONNECTIONS)
        parser.add_argument("--seconds", type=float, default=SECONDS)
        parser.add_argument("--max-requests", type=int, default=MAX_REQUESTS)
        load_main(parser.parse_args())
    else:
        main()
