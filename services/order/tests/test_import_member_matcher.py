"""The import's member matcher while member is unreachable: it finds nobody and pauses rather
than failing the import (matching against the real member server: tests/contract/
test_order_import_members.py)."""
from ..importing.members import MemberMatcher


def test_an_unreachable_member_finds_nobody_and_pauses_the_lookups():
    matcher = MemberMatcher("127.0.0.1:1", timeout=1.0)
    asked = []
    real_lookup = matcher.stub.FindMembersByPhones
    matcher.stub.FindMembersByPhones = lambda *a, **kw: asked.append(a) or real_lookup(*a, **kw)
    assert matcher(["13800138000"]) == {}
    assert matcher(["13900139000"]) == {}  # paused: member is not asked again for a while
    assert len(asked) == 1
