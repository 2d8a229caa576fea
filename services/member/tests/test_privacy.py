"""Personal data: sealed at rest (AES-GCM, keys rotate), found by a keyed phone hash, never in
the raw rows nor in the logs."""
import base64
import logging
import os

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.member.v1 import profile_pb2
from sqlalchemy import text

from servicekit.errors import violations_from_trailers
from servicekit.pii import Cipher, KeyConfigError, KeyRing, PhoneHasher
from services.member import reencrypt
from services.member.models import Address, MemberProfile
from services.member.profile.vault import Vault

from .helpers import as_user, rpc_error

NAME, PHONE, BIRTHDAY = "林晓梅", "13912345678", "1994-07-21"
STREET = "科技园南路88号3栋1201"
# Every form a clear value could take in a row or a log line.
CLEAR = (NAME, PHONE, "139 1234 5678", "1994-07-21", "19940721", STREET, "科技园南路")


def fill_profile(profile_api, md, phone="+86 139-1234-5678"):
    profile_api.UpdateProfile(profile_pb2.UpdateProfileRequest(
        name=NAME, phone=phone, birthday=BIRTHDAY,
        sizes=profile_pb2.Sizes(bra_band=75, bra_cup="b", bottoms_size="m")), metadata=md)
    return profile_api.CreateAddress(profile_pb2.CreateAddressRequest(address=common_pb2.Address(
        recipient=NAME, phone=PHONE, province="广东省", city="深圳市", district="南山区",
        detail=STREET, postal_code="518000")), metadata=md)


def raw_dump(runtime) -> str:
    """Every text value of every member table, as the database holds it."""
    out = []
    with runtime.engine.connect() as conn:
        for table in runtime.metadata.sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                out.append(" ".join(str(v) for v in row))
    return "\n".join(out)


def ring(*ids: str) -> tuple[KeyRing, dict]:
    keys = {i: base64.b64encode(os.urandom(32)).decode() for i in ids}
    return KeyRing.parse(",".join(f"{i}:{k}" for i, k in keys.items())), keys


def test_profile_round_trips_and_is_sealed_in_rows_and_logs(profile_api, shopper, member_runtime,
                                                            caplog):
    caplog.set_level(logging.DEBUG)
    member_id, md = shopper("pii")
    fill_profile(profile_api, md)
    got = profile_api.GetProfile(profile_pb2.GetProfileRequest(), metadata=md)
    assert (got.name, got.phone, got.birthday) == (NAME, PHONE, BIRTHDAY)
    assert (got.sizes.bra_band, got.sizes.bra_cup, got.sizes.bottoms_size) == (75, "B", "M")
    listed = profile_api.ListAddresses(profile_pb2.ListAddressesRequest(), metadata=md)
    assert listed.addresses[0].address.detail == STREET and listed.addresses[0].is_default
    exported = profile_api.ExportMyData(profile_pb2.ExportMyDataRequest(), metadata=md).json
    assert PHONE in exported and STREET in exported  # the member's own export is in clear

    dump = raw_dump(member_runtime)
    assert member_id in dump  # the dump does read the member's rows
    for clear in CLEAR:
        assert clear not in dump, f"{clear!r} stored in clear"
    with member_runtime.transaction() as s:
        row = s.get(MemberProfile, member_id)
        assert row.phone_enc.split(".")[0] == row.name_enc.split(".")[0]  # the key id beside it
        assert len(row.phone_hash) == 64
    ours = [r for r in caplog.records if r.name.startswith("services.member")]
    assert len(ours) >= 2  # the profile and address changes were logged (and captured)
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for clear in CLEAR:
        assert clear not in logged, f"{clear!r} logged"


def test_find_member_by_phone_through_the_hash(profile_api, shopper):
    member_id, md = shopper("finder")
    fill_profile(profile_api, md)
    staff = as_user("00000000-0000-0000-0000-00000000000a", "cs_agent")
    for form in ("13912345678", "+86 139 1234 5678", "0086-139-1234-5678"):
        found = profile_api.FindMemberByPhone(profile_pb2.FindMemberByPhoneRequest(phone=form),
                                              metadata=staff)
        assert found.found and found.member_id == member_id
    missing = profile_api.FindMemberByPhone(profile_pb2.FindMemberByPhoneRequest(
        phone="13800000000"), metadata=staff)
    assert not missing.found and missing.member_id == ""
    err = rpc_error(profile_api.FindMemberByPhone,
                    profile_pb2.FindMemberByPhoneRequest(phone="12345678901"), metadata=staff)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in violations_from_trailers(err.trailing_metadata())] == ["phone"]
    err = rpc_error(profile_api.FindMemberByPhone,
                    profile_pb2.FindMemberByPhoneRequest(phone=PHONE), metadata=md)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_many_phones_are_looked_up_at_once_by_their_keyed_hash(profile_api, shopper):
    member_id, md = shopper("batch-finder")
    fill_profile(profile_api, md)
    staff = as_user("00000000-0000-0000-0000-00000000000a", "operator")
    asked = ["+86 139 1234 5678", "13800000000", "139-1234-5678"]
    found = profile_api.FindMembersByPhones(profile_pb2.FindMembersByPhonesRequest(phones=asked),
                                            metadata=staff)
    # every spelling of the member's number, as asked; the unknown one left out
    assert dict(found.members) == {"+86 139 1234 5678": member_id, "139-1234-5678": member_id}
    assert not profile_api.FindMembersByPhones(profile_pb2.FindMembersByPhonesRequest(),
                                               metadata=staff).members
    err = rpc_error(profile_api.FindMembersByPhones, profile_pb2.FindMembersByPhonesRequest(
        phones=["13800000000", "12345"]), metadata=staff)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in violations_from_trailers(err.trailing_metadata())] == ["phones[1]"]
    err = rpc_error(profile_api.FindMembersByPhones, profile_pb2.FindMembersByPhonesRequest(
        phones=["13800000000"] * 1001), metadata=staff)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 1000" in err.details()
    err = rpc_error(profile_api.FindMembersByPhones,
                    profile_pb2.FindMembersByPhonesRequest(phones=[PHONE]), metadata=md)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_phone_belongs_to_one_member(profile_api, shopper):
    _, first = shopper("one")
    _, second = shopper("two")
    fill_profile(profile_api, first)
    err = rpc_error(profile_api.UpdateProfile, profile_pb2.UpdateProfileRequest(phone=PHONE),
                    metadata=second)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS


def test_bad_profile_input_names_every_field_and_changes_nothing(profile_api, shopper):
    _, md = shopper("bad")
    err = rpc_error(profile_api.UpdateProfile, profile_pb2.UpdateProfileRequest(
        name="x" * 40, phone="0755-88889999", birthday="2999-01-01",
        sizes=profile_pb2.Sizes(bra_band=73, bra_cup="Z", bottoms_size="huge")), metadata=md)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in violations_from_trailers(err.trailing_metadata())}
    assert fields == {"name", "phone", "birthday", "sizes.bra_band", "sizes.bra_cup",
                      "sizes.bottoms_size"}
    got = profile_api.GetProfile(profile_pb2.GetProfileRequest(), metadata=md)
    assert (got.name, got.phone, got.birthday) == ("", "", "")


def test_ciphertexts_are_bound_to_their_row_and_field():
    key_ring, _ = ring("k1")
    vault = Vault(Cipher(key_ring), PhoneHasher(os.urandom(32)))
    sealed = vault.seal_field("m-1", "phone", PHONE)
    assert vault.open_field("m-1", "phone", sealed) == PHONE
    with pytest.raises(KeyConfigError):
        vault.open_field("m-2", "phone", sealed)  # copied into another member's row
    with pytest.raises(KeyConfigError):
        vault.open_field("m-1", "name", sealed)   # or into another column
    assert vault.seal_field("m-1", "phone", PHONE) != sealed  # a fresh nonce every time


@pytest.mark.parametrize("spec", ["", "k1", "k1:notbase64!", "k1:" + base64.b64encode(b"short").decode(),
                                  "bad id:" + base64.b64encode(bytes(32)).decode()])
def test_unusable_key_rings_stop_the_start(spec):
    with pytest.raises(KeyConfigError):
        KeyRing.parse(spec)


def test_rotation_old_keys_decrypt_and_reencrypt_moves_rows(member_runtime):
    old_ring, old_keys = ring("k1")
    hasher = PhoneHasher(os.urandom(32))
    old = Vault(Cipher(old_ring), hasher)
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc)
    with member_runtime.transaction() as s:
        s.add(MemberProfile(member_id="m-rot", name_enc=old.seal_field("m-rot", "name", NAME),
                            phone_enc=old.seal_field("m-rot", "phone", PHONE), bra_cup="",
                            bottoms_size="", updated_at=now))
        s.add(Address(id="a-rot", member_id="m-rot", is_default=True, created_at=now,
                      updated_at=now, payload_enc=old.seal_address("a-rot", {"detail": STREET})))
    new_key = base64.b64encode(os.urandom(32)).decode()
    rotated = Vault(Cipher(KeyRing.parse(f"k2:{new_key},k1:{old_keys['k1']}")), hasher)
    assert reencrypt.reencrypt(member_runtime, rotated) == 2
    assert reencrypt.reencrypt(member_runtime, rotated) == 0  # nothing left under k1
    only_new = Vault(Cipher(KeyRing.parse(f"k2:{new_key}")), hasher)
    with member_runtime.transaction() as s:
        row = s.get(MemberProfile, "m-rot")
        assert row.name_enc.startswith("k2.") and row.birthday_enc is None
        assert only_new.open_field("m-rot", "name", row.name_enc) == NAME
        assert only_new.open_address("a-rot", s.get(Address, "a-rot").payload_enc) == {"detail": STREET}
    with pytest.raises(KeyConfigError):
        old.open_field("m-rot", "name", row.name_enc)  # the retired ring cannot read the new rows
