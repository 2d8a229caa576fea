"""Addresses (several, one default, capped, validated) and the marketing consent history."""
import grpc
from mall.common.v1 import common_pb2
from mall.member.v1 import profile_pb2

from servicekit.errors import violations_from_trailers
from services.member.profile.addresses import MAX_ADDRESSES

from .helpers import rpc_error


def address(detail="科技园南路88号", **changes):
    fields = dict(recipient="林女士", phone="13912345678", province="广东省", city="深圳市",
                  district="南山区", detail=detail)
    fields.update(changes)
    return common_pb2.Address(**fields)


def create(profile_api, md, detail="科技园南路88号", is_default=False, **changes):
    return profile_api.CreateAddress(profile_pb2.CreateAddressRequest(
        address=address(detail, **changes), is_default=is_default), metadata=md)


def listed(profile_api, md):
    return profile_api.ListAddresses(profile_pb2.ListAddressesRequest(), metadata=md).addresses


def test_one_default_among_several(profile_api, shopper):
    _, md = shopper("addr")
    first = create(profile_api, md, "一号")
    second = create(profile_api, md, "二号")
    assert first.is_default and not second.is_default  # the first is the default by itself
    third = create(profile_api, md, "三号", is_default=True)
    rows = listed(profile_api, md)
    assert [a.address_id for a in rows if a.is_default] == [third.address_id]
    assert rows[0].address_id == third.address_id
    profile_api.UpdateAddress(profile_pb2.UpdateAddressRequest(
        address_id=first.address_id, address=address("一号改", postal_code="518000"),
        is_default=True), metadata=md)
    rows = listed(profile_api, md)
    assert [(a.address.detail, a.is_default) for a in rows][0] == ("一号改", True)
    assert sum(a.is_default for a in rows) == 1
    profile_api.DeleteAddress(profile_pb2.DeleteAddressRequest(address_id=first.address_id),
                              metadata=md)
    rows = listed(profile_api, md)
    assert len(rows) == 2 and sum(a.is_default for a in rows) == 1  # the newest took over
    assert rows[0].address_id == third.address_id


def test_an_address_without_province_or_with_a_landline_is_refused(profile_api, shopper):
    _, md = shopper("addrbad")
    err = rpc_error(create, profile_api, md, province="", phone="0755-8888999",
                    postal_code="51800")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in violations_from_trailers(err.trailing_metadata())}
    assert fields == {"address.province", "address.phone", "address.postal_code"}
    assert listed(profile_api, md) == []


def test_addresses_are_capped_and_private(profile_api, shopper):
    _, md = shopper("cap")
    _, other = shopper("nosy")
    made = [create(profile_api, md, f"{i}号") for i in range(MAX_ADDRESSES)]
    err = rpc_error(create, profile_api, md, "多一个")
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(listed(profile_api, md)) == MAX_ADDRESSES
    err = rpc_error(profile_api.DeleteAddress,
                    profile_pb2.DeleteAddressRequest(address_id=made[0].address_id), metadata=other)
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert listed(profile_api, other) == []


def test_consent_is_granted_withdrawn_and_remembered(profile_api, shopper):
    _, md = shopper("consent")
    record = profile_api.RecordConsent
    record(profile_pb2.RecordConsentRequest(purpose="marketing", granted=True,
                                            source="miniprogram:register"), metadata=md)
    assert profile_api.GetProfile(profile_pb2.GetProfileRequest(), metadata=md).marketing_consent
    record(profile_pb2.RecordConsentRequest(purpose="marketing", granted=False,
                                            source="miniprogram:settings"), metadata=md)
    got = profile_api.ListConsents(profile_pb2.ListConsentsRequest(), metadata=md)
    assert [(c.granted, c.source) for c in got.current] == [(False, "miniprogram:settings")]
    assert [c.granted for c in got.history] == [False, True]
    assert all(c.recorded_at.endswith("Z") for c in got.history)
    assert not profile_api.GetProfile(profile_pb2.GetProfileRequest(), metadata=md).marketing_consent
    err = rpc_error(record, profile_pb2.RecordConsentRequest(purpose="spam", granted=True),
                    metadata=md)
    assert {v.field for v in violations_from_trailers(err.trailing_metadata())} == {"purpose", "source"}
