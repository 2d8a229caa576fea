"""A property-based fuzzing run (schemathesis) over every operation of the gateway's own
`/openapi.json`, against the whole suite as processes: staff routes with an admin token, shopper
routes with a shopper's, partner routes signed with a partner key, public ones as they are. Valid
and invalid requests alike must never answer 5xx, and every answer must match its documented
schema. Bounded: MALL_FUZZ_EXAMPLES examples per operation (default 60, ~2 minutes here) from a
fixed seed, MALL_FUZZ_SEED (printed; the same seed sends the same requests)."""
from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from servicekit.partner_signing import signed_headers

from .harness import running_suite
from .shop import ok, sign_in

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("MALL_FUZZ_SEED", "20261204"))
EXAMPLES = int(os.environ.get("MALL_FUZZ_EXAMPLES", "60"))
ONLY = re.compile(os.environ.get("MALL_FUZZ_ONLY", ""))  # e.g. "partner|coupon": to replay a finding
CHECKS = [not_a_server_error, response_schema_conformance]

# Run after every other operation, each for a reason of its own (the rest run in document order).
LAST = {
    "POST /v1/admin/me/password": "changes the fuzzing admin's password (its token stays valid)",
    "DELETE /v1/me": "erases the fuzzing shopper: nothing after it could act as them",
}


class PartnerSignature(requests.auth.AuthBase):
    """Signs the request exactly as sent (final path, query and body), as a partner's ERP does."""

    def __init__(self, key_id: str, secret: str):
        self.key_id, self.secret = key_id, secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        request.headers.update(signed_headers(self.key_id, self.secret, request.method or "GET",
                                              request.path_url,
                                              body.encode() if isinstance(body, str) else body))
        return request


@dataclass
class Findings:
    covered: list[str] = field(default_factory=list)
    requests: int = 0
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    failures: dict[str, list[str]] = field(default_factory=dict)  # operation -> what failed, as curl

    def add(self, label: str, case: schemathesis.Case, error: Exception) -> None:
        seen = self.failures.setdefault(label, [])
        if len(seen) < 3:  # a few examples each are enough to find the cause
            seen.append(str(error).strip()[:1500])  # the failed check, the answer and a curl to replay it


@dataclass
class Caller:
    """Who calls an operation: a bearer token's header or a partner's signature."""
    who: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: PartnerSignature | None = None


def caller_of(path: str, staff: str, shopper: str, partner: PartnerSignature) -> Caller:
    if path.startswith("/partner/"):
        return Caller("partner", auth=partner)
    if path.startswith("/v1/admin/"):
        return Caller("staff", {"Authorization": f"Bearer {staff}"})
    if re.match(r"/v1/(me|cart|checkout|orders|points-mall|coupons|shipments)\b", path):
        return Caller("shopper", {"Authorization": f"Bearer {shopper}"})
    return Caller("anyone")


def fuzz_operation(operation, caller: Caller, base_url: str, findings: Findings) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    # Shrinking is left out to keep the run bounded: the first examples that fail are reported.
    @seed(SEED)
    @settings(max_examples=EXAMPLES, database=None, deadline=None, derandomize=False,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        # headers given here win over generated ones (schemathesis empties a session's own)
        response = case.call(base_url=base_url, headers=caller.headers, auth=caller.auth, timeout=30)
        findings.requests += 1
        findings.statuses[label][response.status_code] = findings.statuses[label].get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as error:  # one failed check, or several
            findings.add(label, case, error)

    run()
    findings.covered.append(label)


@pytest.fixture(scope="module")
def mall(tmp_path_factory):
    """A suite of its own: the fuzzer sets the shop's rules at random (loyalty settings, tiers,
    stock, staff), which no other journey must inherit (points earned at a fuzzed rate of 0)."""
    yield from running_suite(tmp_path_factory, "fuzz")


@pytest.fixture(scope="module")
def admin_token(mall):
    return mall.admin_token()


def test_fuzzing_every_operation_finds_no_5xx_and_no_undocumented_answer(mall, admin_token):
    with mall.client() as http:
        _, shopper_token = sign_in(http, "fuzz-shopper")
    with mall.client(admin_token) as admin:
        issued = ok(admin.post("/v1/admin/partners/credentials",
                               json={"partner_id": "erp-fuzz", "partner_name": "fuzz ERP"}), 201)
    partner = PartnerSignature(issued["credential"]["key_id"], issued["secret"])

    schema = schemathesis.openapi.from_url(f"{mall.url}/openapi.json", config=schemathesis.Config())
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {f"{op.method.upper()} {op.path}": op for op in operations}
    order = [label for label in labels if label not in LAST] + [label for label in LAST if label in labels]
    skipped = [label for label in order if not ONLY.search(label)]
    order = [label for label in order if ONLY.search(label)]

    print(f"\nfuzz: seed {SEED} (MALL_FUZZ_SEED), {EXAMPLES} examples per operation (MALL_FUZZ_EXAMPLES), "
          f"{len(order)} operations of {mall.url}/openapi.json")
    findings = Findings()
    started = time.monotonic()
    for label in order:
        fuzz_operation(labels[label], caller_of(labels[label].path, admin_token, shopper_token, partner),
                       mall.url, findings)
    mall.suite.check_alive()

    print(f"fuzz: {findings.requests} requests in {time.monotonic() - started:.0f}s, seed {SEED}; "
          f"operations covered ({len(findings.covered)}):")
    for label in findings.covered:
        answers = " ".join(f"{status}x{n}" for status, n in sorted(findings.statuses[label].items()))
        print(f"  {label} [{caller_of(labels[label].path, '', '', partner).who}] {answers}"
              + (f"  (run last: {LAST[label]})" if label in LAST else ""))
    print(f"fuzz: skipped: {len(skipped)} not matching MALL_FUZZ_ONLY={ONLY.pattern!r}" if skipped
          else "fuzz: skipped: none")
    report = "\n".join(f"{label}:\n  " + "\n  ".join(found) for label, found in findings.failures.items())
    assert not findings.failures, f"seed {SEED}: {len(findings.failures)} operations failed a check:\n{report}"
