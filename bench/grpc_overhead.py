"""A unary call through the full servicekit stack (client interceptor + server interceptor:
context, tracing, metrics, error mapping) against bare grpcio, same handler, same process.

Last line: grpc_overhead kit_us=N bare_us=N ratio=R   (target: ratio <= 1.3)
"""
import os
import statistics
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MALL_VAR_DIR", tempfile.mkdtemp(prefix="mall-bench-"))
os.environ["MALL_KITDEMO_DATABASE_URL"] = f"sqlite:///{os.environ['MALL_VAR_DIR']}/kitdemo.db"

import grpc  # noqa: E402

from servicekit import grpc_client, grpc_server, service, tracing  # noqa: E402
from servicekit.tests import kitdemo  # noqa: E402
from servicekit.tests.kitdemo import api as demo_api  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "4000"))
ROUNDS = 5


def per_call_us(channel) -> float:
    stub = channel.unary_unary(f"/{demo_api.SERVICE}/Echo",
                               request_serializer=demo_api.StringValue.SerializeToString,
                               response_deserializer=demo_api.StringValue.FromString)
    request = demo_api.StringValue(value="x")
    for _ in range(300):
        stub(request, timeout=5)
    started = time.perf_counter()
    for _ in range(CALLS):
        stub(request, timeout=5)
    return (time.perf_counter() - started) / CALLS * 1e6


def main() -> None:
    tracing.setup("bench")
    rt = service.runtime(kitdemo.NAME)
    rt.metadata.create_all(rt.engine)
    kit = grpc_server.build_server(kitdemo.NAME, port=0, host="127.0.0.1", with_relay=False, max_workers=4)
    bare = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    demo_api.register(bare, rt)
    bare_port = bare.add_insecure_port("127.0.0.1:0")
    bare.start()
    kit_channel = grpc_client.channel(kitdemo.NAME, target=f"127.0.0.1:{kit.port}")
    bare_channel = grpc.insecure_channel(f"127.0.0.1:{bare_port}")
    kit_us, bare_us = [], []
    for _ in range(ROUNDS):  # interleaved, so drift on a shared machine hits both alike
        bare_us.append(per_call_us(bare_channel))
        kit_us.append(per_call_us(kit_channel))
    kit.stop()
    bare.stop(0)
    k, b = statistics.median(kit_us), statistics.median(bare_us)
    print(f"grpc_overhead kit_us={k:.0f} bare_us={b:.0f} ratio={k / b:.2f}")


if __name__ == "__main__":
    main()
