from datetime import datetime, timedelta, timezone

import jwt
import pytest

from services.member.identity import tokens
from services.member.identity.tokens import InvalidToken, TokenIssuer

SECRET = "s" * 48


def test_access_and_refresh_claims_follow_the_documented_format():
    pair = TokenIssuer(SECRET).issue_pair("staff", "staff-1", ("operator", "admin"))
    access = jwt.decode(pair.access_token, SECRET, algorithms=["HS256"])
    refresh = jwt.decode(pair.refresh_token, SECRET, algorithms=["HS256"])
    assert set(access) == {"sub", "kind", "roles", "type", "jti", "iat", "exp"}
    assert access["sub"] == "staff-1" and access["kind"] == "staff"
    assert access["roles"] == ["operator", "admin"] and access["type"] == "access"
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["type"] == "refresh" and refresh["exp"] - refresh["iat"] == 30 * 86400
    assert access["jti"] != refresh["jti"]


def test_customer_tokens_carry_no_roles():
    pair = TokenIssuer(SECRET).issue_pair("customer", "m-1", ("admin",))
    claims = jwt.decode(pair.access_token, SECRET, algorithms=["HS256"])
    assert "roles" not in claims and claims["kind"] == "customer"


def test_decode_refuses_the_wrong_type_a_forged_and_an_expired_token():
    issuer = TokenIssuer(SECRET)
    pair = issuer.issue_pair("customer", "m-1")
    assert issuer.decode(pair.refresh_token, "refresh").sub == "m-1"
    with pytest.raises(InvalidToken):
        issuer.decode(pair.access_token, "refresh")
    with pytest.raises(InvalidToken):
        TokenIssuer("x" * 48).decode(pair.refresh_token, "refresh")
    past = TokenIssuer(SECRET, clock=lambda: datetime.now(timezone.utc) - timedelta(minutes=16))
    with pytest.raises(InvalidToken):
        issuer.decode(past.issue_pair("customer", "m-1").access_token, "access")
    with pytest.raises(InvalidToken):
        issuer.decode("not-a-jwt", "access")


def test_decode_refuses_the_none_algorithm():
    forged = jwt.encode({"sub": "m", "kind": "customer", "type": "access", "jti": "j",
                         "iat": 0, "exp": 2**40}, key=None, algorithm="none")
    with pytest.raises(InvalidToken):
        TokenIssuer(SECRET).decode(forged, "access")


def test_dev_secret_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MALL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("MALL_JWT_SECRET", raising=False)
    first = tokens.load_jwt_secret()
    assert len(first) >= 32
    assert tokens.load_jwt_secret() == first
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0  # readable by its owner only


def test_configured_secret_wins_and_must_be_long_enough(monkeypatch):
    monkeypatch.setenv("MALL_JWT_SECRET", "k" * 40)
    assert tokens.load_jwt_secret() == "k" * 40
    monkeypatch.setenv("MALL_JWT_SECRET", "short")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.load_jwt_secret()
