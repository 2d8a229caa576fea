"""ProfileService: the shopper's own personal data, and FindMemberByPhone(s) for staff/services."""
from __future__ import annotations

from google.protobuf.json_format import MessageToDict
from mall.common.v1 import common_pb2
from mall.member.v1 import profile_pb2, profile_pb2_grpc

from servicekit import roles
from servicekit.context import current, require_user
from servicekit.errors import PermissionDenied
from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..identity.accounts import require_member
from . import addresses, consents, erasure, profiles
from .vault import Vault


def profile_message(p: profiles.ProfileView) -> profile_pb2.Profile:
    h = p.habits
    habits = profile_pb2.ProfileHabits(favourite_category_ids=p.favourite_category_ids)
    if h is not None:
        habits.orders_count, habits.total_paid_fen = h.orders_count, h.total_paid_fen
        habits.average_order_fen, habits.last_order_at = h.average_order_fen, rfc3339(h.last_order_at)
    return profile_pb2.Profile(
        member_id=p.member.id, name=p.name, phone=p.phone, birthday=p.birthday,
        nickname=p.member.nickname, marketing_consent=p.marketing_consent, habits=habits,
        sizes=profile_pb2.Sizes(bra_band=p.bra_band, bra_cup=p.bra_cup, bottoms_size=p.bottoms_size))


def address_message(a: addresses.AddressView) -> profile_pb2.MemberAddress:
    return profile_pb2.MemberAddress(address_id=a.row.id, address=common_pb2.Address(**a.address),
                                     is_default=a.row.is_default,
                                     created_at=rfc3339(a.row.created_at),
                                     updated_at=rfc3339(a.row.updated_at))


def consent_message(c) -> profile_pb2.Consent:
    return profile_pb2.Consent(purpose=c.purpose, granted=c.granted, source=c.source,
                               recorded_at=rfc3339(c.recorded_at))


def _address_dict(address: common_pb2.Address) -> dict:
    return MessageToDict(address, preserving_proto_field_name=True)


def _may_find_by_phone() -> None:
    """Staff with a finder role, or an internal service (no user on the call)."""
    caller = current()
    if caller.user_id and not caller.has_role(*roles.ORDER_DESK):
        raise PermissionDenied(f"finding members by phone needs the role {' or '.join(roles.ORDER_DESK)}")


def _may_check_members() -> None:
    """Any staff, or an internal service (no user on the call): a shopper may not probe ids."""
    caller = current()
    if caller.user_id and not caller.has_role(*roles.ALL):
        raise PermissionDenied(f"checking member ids needs a staff role ({', '.join(roles.ALL)})")


def _me() -> str:
    return require_user("this").user_id


class ProfileServicer(profile_pb2_grpc.ProfileServiceServicer):
    def __init__(self, runtime: Runtime, vault: Vault):
        self.runtime = runtime
        self.vault = vault

    def GetProfile(self, request, context):
        with self.runtime.transaction() as session:
            return profile_message(profiles.get(session, self.vault, _me()))

    def UpdateProfile(self, request, context):
        sizes = None
        if request.HasField("sizes"):
            sizes = (request.sizes.bra_band, request.sizes.bra_cup.strip().upper(),
                     request.sizes.bottoms_size.strip().upper())
        changes = profiles.ProfileChanges(
            name=request.name if request.HasField("name") else None,
            phone=request.phone if request.HasField("phone") else None,
            birthday=request.birthday if request.HasField("birthday") else None, sizes=sizes)
        with self.runtime.transaction() as session:
            return profile_message(profiles.update(session, self.vault, _me(), changes))

    def ListAddresses(self, request, context):
        with self.runtime.transaction() as session:
            rows = addresses.list_for(session, self.vault, require_member(session, _me()).id)
            return profile_pb2.ListAddressesResponse(addresses=[address_message(a) for a in rows])

    def CreateAddress(self, request, context):
        with self.runtime.transaction() as session:
            return address_message(addresses.create(session, self.vault, _me(),
                                                    _address_dict(request.address),
                                                    request.is_default))

    def UpdateAddress(self, request, context):
        with self.runtime.transaction() as session:
            return address_message(addresses.replace(session, self.vault, _me(), request.address_id,
                                                     _address_dict(request.address),
                                                     request.is_default))

    def DeleteAddress(self, request, context):
        with self.runtime.transaction() as session:
            addresses.delete(session, _me(), request.address_id)
        return profile_pb2.DeleteAddressResponse()

    def ListConsents(self, request, context):
        with self.runtime.transaction() as session:
            records = consents.history(session, require_member(session, _me()).id)
            return profile_pb2.ListConsentsResponse(
                current=[consent_message(c) for c in consents.current(records)],
                history=[consent_message(c) for c in records])

    def RecordConsent(self, request, context):
        with self.runtime.transaction() as session:
            return consent_message(consents.record(self.runtime, session, _me(), request.purpose,
                                                   request.granted, request.source))

    def ExportMyData(self, request, context):
        with self.runtime.transaction() as session:
            return profile_pb2.ExportMyDataResponse(
                json=erasure.export_json(session, self.vault, _me()), exported_at=rfc3339(utcnow()))

    def DeleteMyAccount(self, request, context):
        with self.runtime.transaction() as session:
            deleted_at = erasure.delete_account(self.runtime, session, _me(), request.confirm)
        return profile_pb2.DeleteMyAccountResponse(deleted_at=rfc3339(deleted_at))

    def FindMemberByPhone(self, request, context):
        _may_find_by_phone()
        with self.runtime.transaction() as session:
            member_id = profiles.find_by_phone(session, self.vault, request.phone)
        return profile_pb2.FindMemberByPhoneResponse(found=member_id is not None,
                                                     member_id=member_id or "")

    def FindMembersByPhones(self, request, context):
        _may_find_by_phone()
        with self.runtime.transaction() as session:
            found = profiles.find_by_phones(session, self.vault, list(request.phones))
        return profile_pb2.FindMembersByPhonesResponse(members=found)

    def MembersExist(self, request, context):
        _may_check_members()
        with self.runtime.transaction() as session:
            return profile_pb2.MembersExistResponse(
                existing=profiles.existing(session, list(request.member_ids)))


def register(server, runtime: Runtime, vault: Vault) -> str:
    profile_pb2_grpc.add_ProfileServiceServicer_to_server(ProfileServicer(runtime, vault), server)
    return profile_pb2.DESCRIPTOR.services_by_name["ProfileService"].full_name
