"""Talking to the real promotion server in tests: callers, timestamps, errors."""
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mall.promotion.v1 import promotion_pb2 as pb

from servicekit.errors import violations_from_trailers

OPERATOR = (("x-mall-user-id", "staff-1"), ("x-mall-roles", "operator"))


def shopper(member_id: str):
    return (("x-mall-user-id", member_id),)


def stamp(moment) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)
    return err.value


def violations(err) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())]


__all__ = ["pb", "OPERATOR", "shopper", "stamp", "rpc_error", "violations"]
