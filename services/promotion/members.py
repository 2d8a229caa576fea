"""Which member ids are live members, asked of member through its MembersExist (promotion keeps no
copy of the members): staff issuing coupons to a list of ids are refused the ids that are not,
before anything is written. The api process asks; the worker never does (the event-driven issues,
points mall and birthday, name a member that member itself announced)."""
from __future__ import annotations

import threading

import grpc
from mall.member.v1 import profile_pb2, profile_pb2_grpc

from servicekit import grpc_client
from servicekit.config import grpc_target
from servicekit.errors import from_rpc_error

MAX_IDS = 1000  # member's limit for one question


class MemberDirectory:
    def __init__(self, target: str | None = None):
        self.target = target  # tests point at their own server; else the configuration, per call
        self._stubs: dict[str, profile_pb2_grpc.ProfileServiceStub] = {}
        self._lock = threading.Lock()

    def _stub(self) -> profile_pb2_grpc.ProfileServiceStub:
        target = self.target or grpc_target("member")
        with self._lock:
            if target not in self._stubs:
                self._stubs[target] = profile_pb2_grpc.ProfileServiceStub(
                    grpc_client.channel("member", target=target))
            return self._stubs[target]

    def existing(self, member_ids: list[str]) -> set[str]:
        """The live members among `member_ids`; member's refusal or absence is raised as the
        kit's error (UNAVAILABLE: nothing is issued while member cannot say)."""
        stub, found = self._stub(), set()
        try:
            for start in range(0, len(member_ids), MAX_IDS):
                answer = stub.MembersExist(profile_pb2.MembersExistRequest(
                    member_ids=member_ids[start:start + MAX_IDS]))
                found.update(answer.existing)
        except grpc.RpcError as err:
            raise from_rpc_error(err, "member") from None
        return found
