import pytest

from servicekit.errors import Violations
from services.member.identity import passwords, rules
from services.member.profile.habits import average_fen


def violations(check, *args):
    v = Violations()
    result = check(v, *args)
    return [(x.field, x.rule) for x in v.items], result


@pytest.mark.parametrize("name", ["ab", "1admin", "a" * 33, "has space", "中文名", ""])
def test_usernames_refused(name):
    assert violations(rules.check_username, name)[0] == [("username", "format")]


@pytest.mark.parametrize("name", ["amy", "li.na", "wh_01", "a" * 32, "cs-agent-7"])
def test_usernames_accepted(name):
    assert violations(rules.check_username, name)[0] == []


def test_password_length_bounds():
    assert violations(rules.check_new_password, "123456789")[0] == [("password", "min_length")]
    assert violations(rules.check_new_password, "1234567890")[0] == []
    assert violations(rules.check_new_password, "x" * 129)[0] == [("password", "max_length")]


def test_roles_are_checked_each_and_returned_canonical():
    found, roles = violations(rules.check_roles, ["analyst", "admin", "analyst"])
    assert found == [] and roles == ["admin", "analyst"]
    found, _ = violations(rules.check_roles, ["admin", "superuser", "root"])
    assert found == [("roles[1]", "known_role"), ("roles[2]", "known_role")]
    assert violations(rules.check_roles, [])[0] == [("roles", "required")]


def test_argon2_hashes_verify_only_the_right_password():
    hashed = passwords.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "correct horse battery")
    assert not passwords.verify_password(hashed, "correct horse batterY")
    assert not passwords.verify_password(None, "anything at all")
    assert not passwords.verify_password("not-a-hash", "anything at all")
    assert not passwords.needs_rehash(hashed)


def test_average_order_value_rounds_half_up_in_whole_fen():
    assert average_fen(0, 0) == 0
    assert average_fen(100, 3) == 33
    assert average_fen(200, 3) == 67
    assert average_fen(3, 2) == 2  # 1.5 fen rounds up
    assert average_fen(10_000_00, 1) == 10_000_00


@pytest.mark.parametrize("peer, loopback", [("ipv4:127.0.0.1:50000", True),
                                            ("ipv6:[::1]:50000", True),
                                            ("unix:/tmp/member.sock", True),
                                            ("ipv4:10.0.3.7:50000", False),
                                            ("ipv6:[2001:db8::1]:443", False),
                                            ("ipv4:localhost.evil:1", False), ("", False)])
def test_only_loopback_peers_count_as_the_local_seed(peer, loopback):
    from services.member.api import _is_loopback
    assert _is_loopback(peer) is loopback
