"""Matching imported customers to members by phone, through member's FindMembersByPhones (member
keeps only a keyed hash of phones; order never sees member's tables): one call per batch of
orders (a thousand numbers at most). When member does not answer, matching pauses for a minute
and orders are imported unmatched (member_id "") rather than held up: the order.imported_batch
event still carries everything."""
from __future__ import annotations

import logging
import time

import grpc
from mall.member.v1 import profile_pb2, profile_pb2_grpc

from servicekit import grpc_client

log = logging.getLogger(__name__)
PAUSE_SECONDS = 60.0
MAX_PHONES = 1000  # member's limit for one lookup


class MemberMatcher:
    def __init__(self, target: str | None = None, timeout: float = 5.0):
        # A channel connects on its first call: made here, it costs nothing while member is away.
        self.stub = profile_pb2_grpc.ProfileServiceStub(grpc_client.channel("member", target=target))
        self.timeout = timeout
        self._paused_until = 0.0

    def __call__(self, phones: list[str]) -> dict[str, str]:
        """phone -> member id for the phones a member has ({} while member is unreachable)."""
        if not phones or time.monotonic() < self._paused_until:
            return {}
        found: dict[str, str] = {}
        try:
            for start in range(0, len(phones), MAX_PHONES):
                answer = self.stub.FindMembersByPhones(profile_pb2.FindMembersByPhonesRequest(
                    phones=phones[start:start + MAX_PHONES]), timeout=self.timeout)
                found.update(answer.members)
        except grpc.RpcError as err:
            log.warning("member matching paused for %ss: FindMembersByPhones %s", PAUSE_SECONDS,
                        err.code().name)
            self._paused_until = time.monotonic() + PAUSE_SECONDS
            return {}
        return found
