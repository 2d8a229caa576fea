"""WeChat Pay notifications through payment's HandleNotification (full servicekit gRPC stack, same
process): each one verified (SHA256withRSA, ±5 minutes), decrypted (AES-256-GCM), checked against
its intent, applied with payment.succeeded in the outbox and logged; then the same ones again as
duplicates. Intents are prepaid first through CreatePayment against the WeChat Pay stand-in.

On PostgreSQL when 127.0.0.1:5432 answers (fresh database), else SQLite.
Last line: payment_notify notifications=N rate_per_s=N p99_ms=N duplicate_rate_per_s=N
"""
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gen"))

from servicekit import testing  # noqa: E402

COUNT = int(os.environ.get("BENCH_NOTIFICATIONS", "600"))
THREADS = int(os.environ.get("BENCH_THREADS", "8"))


def timed(calls) -> tuple[float, list[float]]:
    latencies: list[float] = []

    def one(call):
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, calls))
    return time.perf_counter() - started, latencies


def main() -> None:
    testing.prepare_environment()
    try:
        testing.ensure_database("payment")
        from mall.payment.v1 import payment_pb2, payment_pb2_grpc

        from servicekit import grpc_client, grpc_server
        from services.payment import testing as payment_testing
        from services.payment.providers import registry

        providers = payment_testing.provider_standins()
        orders = payment_testing.OrderStandin()
        os.environ["MALL_ORDER_GRPC_TARGET"] = f"127.0.0.1:{orders.port}"
        registry.reset()
        server = grpc_server.build_server("payment", port=0, host="127.0.0.1", with_relay=False)
        stub = payment_pb2_grpc.PaymentServiceStub(
            grpc_client.channel("payment", target=f"127.0.0.1:{server.port}"))
        standin = providers.wechatpay
        notifications = []
        for i in range(COUNT):
            orders.add(f"o-{i}", f"m-{i}", 19900 + i)
            intent = stub.CreatePayment(payment_pb2.CreatePaymentRequest(
                order_id=f"o-{i}", method="wechat_jsapi", payer_openid=f"o-openid-{i}"),
                metadata=(("x-mall-user-id", f"m-{i}"),)).intent
            standin.trades[intent.out_trade_no].update(trade_state="SUCCESS", transaction_id=f"42{i:026d}",
                                                       success_time="2026-11-23T20:00:00+08:00")
            notifications.append(standin.notification("TRANSACTION.SUCCESS", "transaction",
                                                      standin._transaction(intent.out_trade_no), "支付成功"))

        def call(note, expected):
            def send():
                answer = stub.HandleNotification(payment_pb2.HandleNotificationRequest(
                    provider="wechatpay", headers=note[1], raw_body=note[0]))
                assert answer.outcome == expected, answer.outcome
            return send

        seconds, latencies = timed([call(n, "applied") for n in notifications])
        dup_seconds, _ = timed([call(n, "duplicate") for n in notifications])
        server.stop()
        orders.stop()
        p99 = statistics.quantiles(latencies, n=100)[98] * 1000
        print(f"payment_notify notifications={COUNT} rate_per_s={COUNT / seconds:.0f} p99_ms={p99:.1f} "
              f"duplicate_rate_per_s={COUNT / dup_seconds:.0f}")
    finally:
        testing.teardown_environment()


if __name__ == "__main__":
    main()
