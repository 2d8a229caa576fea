"""Matching imported customers to members by phone, through member's FindMemberByPhone (member
keeps only a keyed hash of phones; order never sees member's tables). Calls run a few at a time;
when member does not answer, matching pauses for a minute and orders are imported unmatched
(member_id "") rather than held up: the order.imported event still carries everything."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from mall.member.v1 import profile_pb2, profile_pb2_grpc

from servicekit import grpc_client
from servicekit.config import env_int

log = logging.getLogger(__name__)
PAUSE_SECONDS = 60.0


class MemberMatcher:
    def __init__(self, target: str | None = None, parallel: int | None = None,
                 timeout: float = 2.0):
        self.target = target
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=parallel or env_int("IMPORT_MATCH_PARALLEL", 8,
                                                                       "order"),
                                       thread_name_prefix="order-import-match")
        self._stub = None
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def stub(self) -> profile_pb2_grpc.ProfileServiceStub:
        with self._lock:
            if self._stub is None:
                self._stub = profile_pb2_grpc.ProfileServiceStub(
                    grpc_client.channel("member", target=self.target))
            return self._stub

    def __call__(self, phones: list[str]) -> dict[str, str]:
        """phone -> member id for the phones a member has ({} while member is unreachable)."""
        if not phones or time.monotonic() < self._paused_until:
            return {}
        stub = self.stub()

        def one(phone: str) -> tuple[str, str]:
            answer = stub.FindMemberByPhone(profile_pb2.FindMemberByPhoneRequest(phone=phone),
                                            timeout=self.timeout)
            return phone, answer.member_id if answer.found else ""

        try:
            return {phone: member for phone, member in self.pool.map(one, phones) if member}
        except grpc.RpcError as err:
            log.warning("member matching paused for %ss: FindMemberByPhone %s", PAUSE_SECONDS,
                        err.code().name)
            self._paused_until = time.monotonic() + PAUSE_SECONDS
            return {}
