"""kitdemo.Demo: Echo (returns the caller's user id + text), EchoMany (the same, client
streaming), Fail (raises a domain error with field violations), Crash (raises an unexpected error),
Flaky (UNAVAILABLE for the first two calls of a key), Note (writes a note and emits `note.written`
in one transaction)."""
import grpc
from google.protobuf.wrappers_pb2 import StringValue

from servicekit import context
from servicekit.errors import FieldViolation, InvalidArgument, NotFound

from .models import Note

SERVICE = "kitdemo.Demo"
_flaky_calls: dict[str, int] = {}


def register(server, runtime):
    def echo(request, ctx):
        return StringValue(value=f"{context.current().user_id}:{request.value}")

    def fail(request, ctx):
        raise InvalidArgument("bad input", [FieldViolation("skus[0].price_fen", "non_negative",
                                                           "price must be ≥ 0 fen, e.g. 12900")])

    def crash(request, ctx):
        raise RuntimeError("boom")

    def echo_refusal(request, ctx):  # a careless service: its refusal repeats the whole input
        raise NotFound(f"there is no order {request.value!r}", [
            FieldViolation(f"ids[{i}]", "exists", f"no order {request.value!r}") for i in range(50)])

    def flaky(request, ctx):
        count = _flaky_calls[request.value] = _flaky_calls.get(request.value, 0) + 1
        if count <= 2:
            ctx.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        return StringValue(value=f"ok after {count}")

    def note(request, ctx):
        with runtime.transaction() as session:
            session.add(Note(event_id="-", text=request.value))
            runtime.emit(session, "note.written", {"text": request.value})
            if request.value == "rollback":
                raise InvalidArgument.field("value", "not_rollback", "'rollback' is refused")
        return StringValue(value="written")

    def echo_many(requests, ctx):
        return StringValue(value=f"{context.current().user_id}:" + "".join(r.value for r in requests))

    def handler(fn):
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=StringValue.FromString,
            response_serializer=StringValue.SerializeToString)

    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {
        "Echo": handler(echo), "Fail": handler(fail), "Crash": handler(crash),
        "EchoRefusal": handler(echo_refusal),
        "Flaky": handler(flaky), "Note": handler(note),
        "EchoMany": grpc.stream_unary_rpc_method_handler(
            echo_many, request_deserializer=StringValue.FromString,
            response_serializer=StringValue.SerializeToString)})])
    return [SERVICE]


def call(channel, method: str, value: str, **kwargs) -> str:
    stub = channel.unary_unary(f"/{SERVICE}/{method}", request_serializer=StringValue.SerializeToString,
                               response_deserializer=StringValue.FromString)
    return stub(StringValue(value=value), **kwargs).value
