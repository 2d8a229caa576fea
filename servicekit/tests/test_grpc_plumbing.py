"""The server interceptor and client channel, through a real grpc server and real metadata."""
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from servicekit import context, grpc_client
from servicekit.errors import violations_from_trailers
from servicekit.tests import kitdemo
from servicekit.tests.kitdemo import api as _kitdemo_api  # noqa: F401  (kitdemo.api below)
from servicekit.tests.kitdemo.api import call

NAME = kitdemo.NAME


@pytest.fixture
def demo_channel(grpc_stub_for, wait_until):
    channel = grpc_stub_for(NAME, lambda ch: ch)
    health = health_pb2_grpc.HealthStub(channel)
    wait_until(lambda: health.Check(health_pb2.HealthCheckRequest(service="kitdemo.Demo")).status
               == health_pb2.HealthCheckResponse.SERVING, message="kitdemo SERVING")
    return channel


def test_identity_travels_from_context_to_server(demo_channel):
    token = context.set_current(context.CallContext(user_id="m-42", roles=("admin",)))
    try:
        assert call(demo_channel, "Echo", "hi") == "m-42:hi"
    finally:
        context.reset(token)


def test_domain_error_becomes_invalid_argument_with_field_violations(demo_channel):
    with pytest.raises(grpc.RpcError) as info:
        call(demo_channel, "Fail", "x")
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = violations_from_trailers(err.trailing_metadata())
    assert violation.field == "skus[0].price_fen"
    assert violation.rule == "non_negative"
    assert "≥ 0" in violation.description


def test_unexpected_error_is_internal_and_names_the_request(demo_channel):
    token = context.set_current(context.CallContext(request_id="req-123"))
    try:
        with pytest.raises(grpc.RpcError) as info:
            call(demo_channel, "Crash", "x")
    finally:
        context.reset(token)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    details = info.value.details() or ""
    assert "req-123" in details
    assert "boom" not in details  # internals are logged, not leaked


def test_unavailable_is_retried_by_the_service_config(demo_channel):
    assert call(demo_channel, "Flaky", "retry-key") == "ok after 3"


def test_every_call_has_a_deadline_and_a_longer_one_can_be_asked_for(demo_channel, grpc_target_for):
    import time

    # A channel to a port nobody listens on: wait_for_ready makes the call wait, and the
    # channel's default deadline (0.3 s here) ends it instead of hanging forever.
    nowhere = grpc_client.channel(NAME, target="127.0.0.1:1", timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        call(nowhere, "Echo", "x", wait_for_ready=True)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3
    # The default is not a cap: a call that asks for more time gets it.
    short = grpc_client.channel(NAME, target=grpc_target_for(NAME), timeout_seconds=0.001)
    assert call(short, "Echo", "slow-ok", timeout=5).endswith("slow-ok")


def test_health_becomes_serving_and_stops_serving_on_shutdown(runtime_for, wait_until):
    from servicekit import grpc_server

    runtime_for(NAME)
    running = grpc_server.build_server(NAME, port=0, host="127.0.0.1", with_relay=False)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    health = health_pb2_grpc.HealthStub(channel)
    wait_until(lambda: health.Check(health_pb2.HealthCheckRequest()).status
               == health_pb2.HealthCheckResponse.SERVING, timeout=20)
    running.set_serving(False)  # what SIGTERM does first, before draining
    assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.NOT_SERVING
    running.stop()


def test_aio_channel_sends_identity_on_unary_and_streaming_calls(grpc_target_for):
    """The gateway's channel kind: metadata must travel on every call kind."""
    import asyncio

    from google.protobuf.wrappers_pb2 import StringValue

    target = grpc_target_for(NAME)

    async def scenario():
        channel = grpc_client.aio_channel(NAME, target=target)
        token = context.set_current(context.CallContext(user_id="m-7"))
        try:
            unary = channel.unary_unary(f"/{kitdemo.api.SERVICE}/Echo",
                                        request_serializer=StringValue.SerializeToString,
                                        response_deserializer=StringValue.FromString)
            streaming = channel.stream_unary(f"/{kitdemo.api.SERVICE}/EchoMany",
                                             request_serializer=StringValue.SerializeToString,
                                             response_deserializer=StringValue.FromString)

            async def parts():
                yield StringValue(value="a")
                yield StringValue(value="b")

            return (await unary(StringValue(value="x"))).value, (await streaming(parts())).value
        finally:
            context.reset(token)
            await channel.close()

    assert asyncio.run(scenario()) == ("m-7:x", "m-7:ab")


@pytest.mark.parametrize("size", [100, 20_000, 200_000])
def test_a_refusal_that_echoes_a_long_input_still_arrives_as_itself(demo_channel, size):
    """The status travels in trailers: a message or violations repeating a 20,000-character
    input once became RESOURCE_EXHAUSTED with the transport's internals; they are cut to fit."""
    with pytest.raises(grpc.RpcError) as info:
        call(demo_channel, "EchoRefusal", "号" * size)
    err = info.value
    assert err.code() == grpc.StatusCode.NOT_FOUND
    details = err.details() or ""
    assert details.startswith("there is no order '号") and len(details.encode()) <= 512
    violations = violations_from_trailers(err.trailing_metadata())
    assert violations[0].field == "ids[0]" and violations[0].rule == "exists"
    if size > 1000:
        assert violations[-1].rule == "more" and len(violations) < 50


@pytest.mark.parametrize("text", ["a\x00b", "\x00"])
def test_text_holding_a_nul_is_invalid_argument_naming_the_field_not_internal(demo_channel, text):
    """PostgreSQL text cannot hold U+0000: a note with one failed in the insert as INTERNAL (the
    OpenAPI fuzzing run found it through a warehouse's city and a ledger filter)."""
    with pytest.raises(grpc.RpcError) as info:
        call(demo_channel, "Note", text)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = violations_from_trailers(info.value.trailing_metadata())
    assert (violation.field, violation.rule) == ("value", "no_nul")


def test_the_first_field_holding_a_nul_is_named_through_nesting_lists_and_maps():
    from google.protobuf.struct_pb2 import ListValue, Struct, Value

    from servicekit.grpc_server import _field_holding_nul

    assert _field_holding_nul(Struct(fields={"city": Value(string_value="杭州")})) is None
    nested = Struct(fields={"a": Value(list_value=ListValue(values=[Value(string_value="ok"),
                                                                    Value(string_value="x\x00")]))})
    assert _field_holding_nul(nested) == "fields[a].list_value.values[1].string_value"
    assert _field_holding_nul(Struct(fields={"k\x00": Value(string_value="v")})) == "fields"
