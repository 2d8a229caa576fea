"""What member promises its callers (the gateway, order's checkout and import): sign-in, staff,
profile, loyalty and partner credentials, through its real gRPC server."""
from __future__ import annotations

import time
import types
import uuid

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.member.v1 import loyalty_pb2 as loyalty
from mall.member.v1 import loyalty_pb2_grpc, member_pb2_grpc, partner_pb2_grpc, profile_pb2_grpc
from mall.member.v1 import member_pb2 as pb
from mall.member.v1 import partner_pb2 as partner
from mall.member.v1 import profile_pb2 as profile
from support_a import OPERATOR, as_user, code_of, refusal, sign_in, violated_fields
from support_a import wechat as wechat  # noqa: F401 (a fixture)

from servicekit import partner_signing

Code = grpc.StatusCode
ADDRESS = common_pb2.Address(recipient="林小姐", phone="13800138000", province="广东省",
                             city="深圳市", district="南山区", detail="科技园路 1 号",
                             postal_code="518000")


@pytest.fixture
def stubs(wechat, grpc_stub_for):
    def stub(cls):
        return grpc_stub_for("member", cls)
    return types.SimpleNamespace(auth=stub(member_pb2_grpc.AuthServiceStub),
                                 staff=stub(member_pb2_grpc.StaffServiceStub),
                                 profile=stub(profile_pb2_grpc.ProfileServiceStub),
                                 loyalty=stub(loyalty_pb2_grpc.LoyaltyServiceStub),
                                 loyalty_admin=stub(loyalty_pb2_grpc.LoyaltyAdminServiceStub),
                                 partners=stub(partner_pb2_grpc.PartnerServiceStub))


@pytest.fixture
def admin(stubs):
    """The first admin, made by EnsureAdmin: (staff id, password, metadata)."""
    made = stubs.staff.EnsureAdmin(pb.EnsureAdminRequest(), metadata=as_user("seed", "admin"))
    assert made.created and made.generated_password
    return made.admin.staff_id, made.generated_password, as_user(made.admin.staff_id, "admin")


@pytest.fixture
def shopper(stubs):
    return sign_in(stubs.auth)


# --- AuthService and StaffService -------------------------------------------------------------

def test_a_wechat_login_makes_the_member_once(stubs):
    first = stubs.auth.WechatLogin(pb.WechatLoginRequest(code="alice~1"))
    again = stubs.auth.WechatLogin(pb.WechatLoginRequest(code="alice~2"))
    assert first.is_new and not again.is_new and first.member_id == again.member_id
    assert first.tokens.token_type == "Bearer" and first.tokens.access_expires_in > 0
    assert code_of(stubs.auth.WechatLogin, pb.WechatLoginRequest(code="alice~1")) == \
        Code.UNAUTHENTICATED  # a code works once
    assert violated_fields(refusal(stubs.auth.WechatLogin, pb.WechatLoginRequest())) == {"code"}
    me = stubs.auth.GetMe(pb.GetMeRequest(), metadata=as_user(first.member_id))
    assert me.customer.member_id == first.member_id and me.customer.habits.orders_count == 0
    assert code_of(stubs.auth.GetMe, pb.GetMeRequest()) == Code.UNAUTHENTICATED


def test_staff_sign_in_refresh_and_change_their_password(stubs, admin):
    staff_id, password, _ = admin
    login = stubs.auth.StaffLogin(pb.StaffLoginRequest(username="admin", password=password))
    assert login.staff.staff_id == staff_id and "admin" in login.staff.roles
    assert code_of(stubs.auth.StaffLogin, pb.StaffLoginRequest(username="admin",
                                                               password="wrong-password")) \
        == Code.UNAUTHENTICATED
    renewed = stubs.auth.Refresh(pb.RefreshRequest(refresh_token=login.tokens.refresh_token))
    assert renewed.tokens.refresh_token != login.tokens.refresh_token
    assert code_of(stubs.auth.Refresh, pb.RefreshRequest(
        refresh_token=login.tokens.refresh_token)) == Code.UNAUTHENTICATED  # spent
    me = stubs.auth.GetMe(pb.GetMeRequest(), metadata=as_user(staff_id, "admin"))
    assert me.staff.username == "admin"
    err = refusal(stubs.auth.ChangePassword, pb.ChangePasswordRequest(
        current_password=password, new_password="short"), metadata=as_user(staff_id, "admin"))
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"new_password"}
    changed = stubs.auth.ChangePassword(pb.ChangePasswordRequest(
        current_password=password, new_password="a-new-long-password"),
        metadata=as_user(staff_id, "admin"))
    assert changed.tokens.access_token
    assert code_of(stubs.auth.Refresh, pb.RefreshRequest(
        refresh_token=renewed.tokens.refresh_token)) == Code.UNAUTHENTICATED  # others revoked


def test_admins_manage_staff(stubs, admin):
    _, _, as_admin = admin
    clerk = stubs.staff.CreateStaff(pb.CreateStaffRequest(
        username="Wang.Li", password="a-long-password", roles=["warehouse"],
        display_name="王丽"), metadata=as_admin)
    assert (clerk.username, list(clerk.roles)) == ("wang.li", ["warehouse"])
    assert code_of(stubs.staff.CreateStaff, pb.CreateStaffRequest(
        username="wang.li", password="a-long-password", roles=["warehouse"]),
        metadata=as_admin) == Code.ALREADY_EXISTS
    err = refusal(stubs.staff.CreateStaff, pb.CreateStaffRequest(
        username="1x", password="short", roles=["boss"]), metadata=as_admin)
    assert err.code() == Code.INVALID_ARGUMENT
    assert violated_fields(err) == {"username", "password", "roles[0]"}
    assert code_of(stubs.staff.CreateStaff, pb.CreateStaffRequest(
        username="zhao", password="a-long-password", roles=["operator"]),
        metadata=as_user(clerk.staff_id, "admin")) == Code.PERMISSION_DENIED  # roles per database
    assert code_of(stubs.staff.ListStaff, pb.ListStaffRequest(),
                   metadata=as_user(clerk.staff_id, "warehouse")) == Code.PERMISSION_DENIED

    updated = stubs.staff.UpdateStaff(pb.UpdateStaffRequest(
        staff_id=clerk.staff_id, roles=pb.StaffRoles(roles=["operator"]), disabled=True),
        metadata=as_admin)
    assert list(updated.roles) == ["operator"] and updated.disabled
    assert code_of(stubs.staff.UpdateStaff, pb.UpdateStaffRequest(
        staff_id=str(uuid.uuid4()), disabled=True), metadata=as_admin) == Code.NOT_FOUND
    listed = stubs.staff.ListStaff(pb.ListStaffRequest(), metadata=as_admin)
    assert [s.username for s in listed.staff] == ["admin"]
    everyone = stubs.staff.ListStaff(pb.ListStaffRequest(include_disabled=True), metadata=as_admin)
    assert [s.username for s in everyone.staff] == ["admin", "wang.li"]
    again = stubs.staff.EnsureAdmin(pb.EnsureAdminRequest(), metadata=as_user("seed", "admin"))
    assert not again.created and not again.generated_password
    assert code_of(stubs.staff.EnsureAdmin, pb.EnsureAdminRequest(),
                   metadata=OPERATOR) == Code.PERMISSION_DENIED


# --- ProfileService ---------------------------------------------------------------------------

def test_a_shopper_keeps_a_profile(stubs, shopper):
    member_id, me = shopper
    updated = stubs.profile.UpdateProfile(profile.UpdateProfileRequest(
        name="林小姐", phone="+86 138-0013-8000", birthday="1995-06-01",
        sizes=profile.Sizes(bra_band=75, bra_cup="B")), metadata=me)
    assert (updated.phone, updated.sizes.bra_cup) == ("13800138000", "B")
    got = stubs.profile.GetProfile(profile.GetProfileRequest(), metadata=me)
    assert got.member_id == member_id and got.name == "林小姐" and got.birthday == "1995-06-01"
    err = refusal(stubs.profile.UpdateProfile, profile.UpdateProfileRequest(
        phone="12345", birthday="1800-01-01", sizes=profile.Sizes(bra_band=77)), metadata=me)
    assert err.code() == Code.INVALID_ARGUMENT
    assert {"phone", "birthday"} <= violated_fields(err)
    _, someone_else = sign_in(stubs.auth)
    assert code_of(stubs.profile.UpdateProfile, profile.UpdateProfileRequest(
        phone="13800138000"), metadata=someone_else) == Code.ALREADY_EXISTS
    assert code_of(stubs.profile.GetProfile, profile.GetProfileRequest(),
                   metadata=as_user(str(uuid.uuid4()))) == Code.UNAUTHENTICATED


def test_addresses_have_one_default_and_are_the_shoppers_own(stubs, shopper):
    _, me = shopper
    home = stubs.profile.CreateAddress(profile.CreateAddressRequest(address=ADDRESS), metadata=me)
    office = stubs.profile.CreateAddress(profile.CreateAddressRequest(
        address=common_pb2.Address(**{**_fields(ADDRESS), "detail": "深南大道 2 号"}),
        is_default=True), metadata=me)
    assert home.is_default and office.is_default
    listed = stubs.profile.ListAddresses(profile.ListAddressesRequest(), metadata=me).addresses
    assert {a.address_id: a.is_default for a in listed} == {home.address_id: False,
                                                            office.address_id: True}
    moved = stubs.profile.UpdateAddress(profile.UpdateAddressRequest(
        address_id=home.address_id, address=ADDRESS, is_default=True), metadata=me)
    assert moved.is_default
    bad = common_pb2.Address(**{**_fields(ADDRESS), "province": "", "postal_code": "12"})
    err = refusal(stubs.profile.CreateAddress, profile.CreateAddressRequest(address=bad),
                  metadata=me)
    assert err.code() == Code.INVALID_ARGUMENT
    assert violated_fields(err) == {"address.province", "address.postal_code"}
    _, stranger = sign_in(stubs.auth)
    assert code_of(stubs.profile.DeleteAddress, profile.DeleteAddressRequest(
        address_id=home.address_id), metadata=stranger) == Code.NOT_FOUND
    stubs.profile.DeleteAddress(profile.DeleteAddressRequest(address_id=home.address_id),
                                metadata=me)
    (left,) = stubs.profile.ListAddresses(profile.ListAddressesRequest(), metadata=me).addresses
    assert left.address_id == office.address_id and left.is_default


def _fields(address) -> dict:
    return {f.name: v for f, v in address.ListFields()}


def test_consent_history_export_and_erasure(stubs, shopper):
    member_id, me = shopper
    stubs.profile.RecordConsent(profile.RecordConsentRequest(purpose="marketing", granted=True,
                                                             source="settings"), metadata=me)
    stubs.profile.RecordConsent(profile.RecordConsentRequest(purpose="marketing", granted=False,
                                                             source="settings"), metadata=me)
    consents = stubs.profile.ListConsents(profile.ListConsentsRequest(), metadata=me)
    assert [(c.purpose, c.granted) for c in consents.current] == [("marketing", False)]
    assert len(consents.history) == 2
    assert code_of(stubs.profile.RecordConsent, profile.RecordConsentRequest(
        purpose="", granted=True), metadata=me) == Code.INVALID_ARGUMENT

    exported = stubs.profile.ExportMyData(profile.ExportMyDataRequest(), metadata=me)
    assert member_id in exported.json and exported.exported_at
    assert code_of(stubs.profile.DeleteMyAccount, profile.DeleteMyAccountRequest(),
                   metadata=me) == Code.INVALID_ARGUMENT  # confirm is required
    gone = stubs.profile.DeleteMyAccount(profile.DeleteMyAccountRequest(confirm=True), metadata=me)
    assert gone.deleted_at
    assert code_of(stubs.profile.GetProfile, profile.GetProfileRequest(),
                   metadata=me) == Code.UNAUTHENTICATED


def test_members_are_found_by_phone_by_staff_and_internal_callers(stubs, shopper):
    member_id, me = shopper
    stubs.profile.UpdateProfile(profile.UpdateProfileRequest(phone="13900139000"), metadata=me)
    found = stubs.profile.FindMemberByPhone(profile.FindMemberByPhoneRequest(
        phone="139 0013 9000"), metadata=OPERATOR)
    assert (found.found, found.member_id) == (True, member_id)
    assert not stubs.profile.FindMemberByPhone(profile.FindMemberByPhoneRequest(
        phone="13700137000")).found  # an internal caller (no user) may ask
    assert code_of(stubs.profile.FindMemberByPhone, profile.FindMemberByPhoneRequest(
        phone="13900139000"), metadata=me) == Code.PERMISSION_DENIED
    many = stubs.profile.FindMembersByPhones(profile.FindMembersByPhonesRequest(
        phones=["+86 139-0013-9000", "13700137000"]))
    assert dict(many.members) == {"+86 139-0013-9000": member_id}
    err = refusal(stubs.profile.FindMembersByPhones, profile.FindMembersByPhonesRequest(
        phones=["13700137000", "not-a-phone"]))
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"phones[1]"}
    assert code_of(stubs.profile.FindMembersByPhones, profile.FindMembersByPhonesRequest(
        phones=["13700137000"]), metadata=me) == Code.PERMISSION_DENIED


def test_staff_and_internal_callers_learn_which_member_ids_are_live(stubs):
    alive, _ = sign_in(stubs.auth)
    leaving, leaving_me = sign_in(stubs.auth)
    stubs.profile.DeleteMyAccount(profile.DeleteMyAccountRequest(confirm=True), metadata=leaving_me)
    asked = [str(uuid.uuid4()), leaving, alive, "²", alive]
    answer = stubs.profile.MembersExist(profile.MembersExistRequest(member_ids=asked),
                                        metadata=OPERATOR)
    assert list(answer.existing) == [alive]  # a deleted member, an unknown id, a non-id: not
    assert list(stubs.profile.MembersExist(profile.MembersExistRequest(
        member_ids=[alive])).existing) == [alive]  # an internal caller (no user) may ask
    assert list(stubs.profile.MembersExist(profile.MembersExistRequest()).existing) == []
    err = refusal(stubs.profile.MembersExist, profile.MembersExistRequest(
        member_ids=[str(n) for n in range(1001)]))
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"member_ids"}
    _, me = sign_in(stubs.auth)
    assert code_of(stubs.profile.MembersExist, profile.MembersExistRequest(member_ids=[alive]),
                   metadata=me) == Code.PERMISSION_DENIED  # a shopper may not probe ids


# --- LoyaltyService and LoyaltyAdminService ---------------------------------------------------

def test_points_are_adjusted_by_staff_spent_by_checkout_and_shown_to_the_shopper(stubs, shopper):
    member_id, me = shopper
    entry = stubs.loyalty_admin.AdjustPoints(loyalty.AdjustPointsRequest(
        member_id=member_id, points=1000, reason="goodwill"), metadata=OPERATOR)
    assert (entry.kind, entry.points, entry.balance_after) == ("adjust", 1000, 1000)
    err = refusal(stubs.loyalty_admin.AdjustPoints, loyalty.AdjustPointsRequest(
        member_id=member_id, points=10), metadata=OPERATOR)
    assert violated_fields(err) == {"reason"}
    assert code_of(stubs.loyalty_admin.AdjustPoints, loyalty.AdjustPointsRequest(
        member_id=member_id, points=10, reason="x"), metadata=me) == Code.PERMISSION_DENIED

    spent = stubs.loyalty.SpendPoints(loyalty.SpendPointsRequest(
        order_id="o-1", member_id=member_id, points=300))
    assert spent.balance == 700 and spent.entry.points == -300
    assert stubs.loyalty.SpendPoints(loyalty.SpendPointsRequest(
        order_id="o-1", member_id=member_id, points=300)).entry.entry_id == spent.entry.entry_id
    assert code_of(stubs.loyalty.SpendPoints, loyalty.SpendPointsRequest(
        order_id="o-1", member_id=member_id, points=200)) == Code.FAILED_PRECONDITION
    assert code_of(stubs.loyalty.SpendPoints, loyalty.SpendPointsRequest(
        order_id="o-2", member_id=member_id, points=5000)) == Code.RESOURCE_EXHAUSTED

    assert stubs.loyalty.GetPointsBalance(loyalty.GetPointsBalanceRequest(),
                                          metadata=me).balance == 700
    history = stubs.loyalty.ListPointsHistory(loyalty.ListPointsHistoryRequest(), metadata=me)
    assert [e.points for e in history.entries] == [-300, 1000] and history.balance == 700
    assert code_of(stubs.loyalty.ListPointsHistory, loyalty.ListPointsHistoryRequest(
        page=common_pb2.PageRequest(page_token="forged")), metadata=me) == Code.INVALID_ARGUMENT
    pricing = stubs.loyalty.GetPricingProfile(loyalty.GetPricingProfileRequest(member_id=member_id))
    assert pricing.points_balance == 700 and pricing.tier_code == "standard"
    assert code_of(stubs.loyalty.GetPricingProfile, loyalty.GetPricingProfileRequest(
        member_id=str(uuid.uuid4()))) == Code.NOT_FOUND
    tier = stubs.loyalty.GetMyTier(loyalty.GetMyTierRequest(), metadata=me)
    assert tier.tier.code == "standard" and tier.next_tier.code == "silver" and tier.to_next > 0


def test_staff_shape_the_tier_ladder_and_the_earning_rule(stubs):
    tiers = stubs.loyalty_admin.ListTiers(loyalty.ListTiersRequest(), metadata=OPERATOR).tiers
    assert [t.code for t in tiers] == ["standard", "silver", "gold", "diamond"]
    platinum = loyalty.Tier(code="platinum", name="铂金会员", rank=4, threshold_kind="spend",
                            threshold=1_600_000, discount_percent=88,
                            points_multiplier_percent=250)
    assert stubs.loyalty_admin.PutTier(platinum, metadata=OPERATOR).code == "platinum"
    err = refusal(stubs.loyalty_admin.PutTier, loyalty.Tier(
        code="Bad Code", name="x", rank=5, threshold_kind="spend", threshold=-1,
        discount_percent=0, points_multiplier_percent=100), metadata=OPERATOR)
    assert err.code() == Code.INVALID_ARGUMENT and {"code", "threshold"} <= violated_fields(err)
    stubs.loyalty_admin.DeleteTier(loyalty.DeleteTierRequest(code="platinum"), metadata=OPERATOR)
    assert code_of(stubs.loyalty_admin.DeleteTier, loyalty.DeleteTierRequest(code="standard"),
                   metadata=OPERATOR) == Code.FAILED_PRECONDITION
    assert code_of(stubs.loyalty_admin.ListTiers, loyalty.ListTiersRequest(),
                   metadata=as_user("m-1")) == Code.PERMISSION_DENIED

    rule = stubs.loyalty_admin.GetLoyaltySettings(loyalty.GetLoyaltySettingsRequest(),
                                                  metadata=OPERATOR)
    assert (rule.earn_unit_fen, rule.earn_points_per_unit) == (10_000, 10)
    changed = stubs.loyalty_admin.UpdateLoyaltySettings(loyalty.LoyaltySettings(
        earn_unit_fen=10_000, earn_points_per_unit=20, expire_after_years=2), metadata=OPERATOR)
    assert changed.earn_points_per_unit == 20 and changed.updated_at
    assert code_of(stubs.loyalty_admin.UpdateLoyaltySettings, loyalty.LoyaltySettings(
        earn_unit_fen=0, earn_points_per_unit=20, expire_after_years=2),
        metadata=OPERATOR) == Code.INVALID_ARGUMENT


def test_the_points_mall_sells_for_points_once_per_key(stubs, shopper):
    member_id, me = shopper
    stubs.loyalty_admin.AdjustPoints(loyalty.AdjustPointsRequest(
        member_id=member_id, points=500, reason="seed"), metadata=OPERATOR)
    bag = stubs.loyalty_admin.PutMallItem(loyalty.MallItem(
        kind="gift", title="收纳袋", points_price=200, stock=5, per_member_limit=2, active=True,
        gift_sku_id="sku-bag"), metadata=OPERATOR)
    assert bag.item_id and bag.stock == 5
    assert code_of(stubs.loyalty_admin.PutMallItem, loyalty.MallItem(
        kind="coupon", title="券", points_price=0, stock=1, active=True),
        metadata=OPERATOR) == Code.INVALID_ARGUMENT
    assert [i.item_id for i in stubs.loyalty_admin.ListAllMallItems(
        loyalty.ListAllMallItemsRequest(), metadata=OPERATOR).items] == [bag.item_id]
    assert [i.item_id for i in stubs.loyalty.ListMallItems(
        loyalty.ListMallItemsRequest(), metadata=me).items] == [bag.item_id]

    home = stubs.profile.CreateAddress(profile.CreateAddressRequest(address=common_pb2.Address(
        recipient="王芳", phone="13800000000", province="广东省", city="深圳市", detail="科技园 1 号")),
        metadata=me).address_id
    assert code_of(stubs.loyalty.Redeem, loyalty.RedeemRequest(item_id=bag.item_id, quantity=1),
                   metadata=me) == Code.INVALID_ARGUMENT  # a gift ships: an address is required
    tap = [*me, ("idempotency-key", "redeem-1")]
    first = stubs.loyalty.Redeem(loyalty.RedeemRequest(item_id=bag.item_id, quantity=1,
                                                       address_id=home), metadata=tap)
    again = stubs.loyalty.Redeem(loyalty.RedeemRequest(item_id=bag.item_id, quantity=1,
                                                       address_id=home), metadata=tap)
    assert again.redemption_id == first.redemption_id and first.balance == 300
    assert code_of(stubs.loyalty.Redeem, loyalty.RedeemRequest(
        item_id=bag.item_id, quantity=2, address_id=home),
        metadata=me) == Code.RESOURCE_EXHAUSTED  # 400 points, 300 left
    assert code_of(stubs.loyalty.Redeem, loyalty.RedeemRequest(item_id=str(uuid.uuid4()),
                                                               quantity=1),
                   metadata=me) == Code.NOT_FOUND


# --- PartnerService ---------------------------------------------------------------------------

def test_partner_credentials_are_issued_verified_and_revoked(stubs):
    issued = stubs.partners.IssuePartnerCredential(partner.IssuePartnerCredentialRequest(
        partner_id="erp-one", partner_name="ERP One"), metadata=as_user("staff-admin", "admin"))
    key_id, secret = issued.credential.key_id, issued.secret
    assert key_id.startswith("pk_") and secret
    err = refusal(stubs.partners.IssuePartnerCredential, partner.IssuePartnerCredentialRequest(
        partner_id="1 bad", partner_name="x"), metadata=as_user("staff-admin", "admin"))
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"partner_id"}
    assert code_of(stubs.partners.IssuePartnerCredential, partner.IssuePartnerCredentialRequest(
        partner_id="erp-two", partner_name="x"), metadata=OPERATOR) == Code.PERMISSION_DENIED

    def verify(nonce, sign_with=secret):
        headers = partner_signing.signed_headers(key_id, sign_with, "POST", "/partner/v1/orders",
                                                 b"{}", timestamp=int(time.time()), nonce=nonce)
        return partner.VerifyPartnerSignatureRequest(
            key_id=key_id, method="POST", path="/partner/v1/orders",
            timestamp=headers[partner_signing.TIMESTAMP], nonce=nonce,
            body_sha256=headers[partner_signing.CONTENT_SHA256],
            signature=headers[partner_signing.SIGNATURE])

    verified = stubs.partners.VerifyPartnerSignature(verify("nonce-0001"))
    assert (verified.partner_id, verified.key_id) == ("erp-one", key_id)
    assert code_of(stubs.partners.VerifyPartnerSignature, verify("nonce-0001")) == \
        Code.UNAUTHENTICATED  # a nonce verifies once
    assert code_of(stubs.partners.VerifyPartnerSignature, verify("nonce-0002", "not-the-secret")) \
        == Code.UNAUTHENTICATED

    listed = stubs.partners.ListPartnerCredentials(partner.ListPartnerCredentialsRequest(
        partner_id="erp-one"), metadata=OPERATOR)
    assert [c.key_id for c in listed.credentials] == [key_id]
    revoked = stubs.partners.RevokePartnerCredential(partner.RevokePartnerCredentialRequest(
        key_id=key_id), metadata=as_user("staff-admin", "admin"))
    assert revoked.revoked_at
    assert code_of(stubs.partners.VerifyPartnerSignature, verify("nonce-0003")) == \
        Code.UNAUTHENTICATED
    assert code_of(stubs.partners.RevokePartnerCredential, partner.RevokePartnerCredentialRequest(
        key_id="pk_unknown"), metadata=as_user("staff-admin", "admin")) == Code.NOT_FOUND
    assert stubs.partners.ListPartnerCredentials(partner.ListPartnerCredentialsRequest(
        partner_id="erp-one"), metadata=OPERATOR).credentials == []


# --- who may call what ------------------------------------------------------------------------

SHOPPERS_OWN = [  # (stub, rpc, request): the signed-in shopper's own data
    ("profile", "GetProfile", profile.GetProfileRequest()),
    ("profile", "UpdateProfile", profile.UpdateProfileRequest(name="林")),
    ("profile", "ListAddresses", profile.ListAddressesRequest()),
    ("profile", "CreateAddress", profile.CreateAddressRequest(address=ADDRESS)),
    ("profile", "UpdateAddress", profile.UpdateAddressRequest(address_id="a-1", address=ADDRESS)),
    ("profile", "DeleteAddress", profile.DeleteAddressRequest(address_id="a-1")),
    ("profile", "ListConsents", profile.ListConsentsRequest()),
    ("profile", "RecordConsent", profile.RecordConsentRequest(purpose="marketing", granted=True)),
    ("profile", "ExportMyData", profile.ExportMyDataRequest()),
    ("profile", "DeleteMyAccount", profile.DeleteMyAccountRequest(confirm=True)),
    ("loyalty", "GetMyTier", loyalty.GetMyTierRequest()),
    ("loyalty", "GetPointsBalance", loyalty.GetPointsBalanceRequest()),
    ("loyalty", "ListPointsHistory", loyalty.ListPointsHistoryRequest()),
    ("loyalty", "Redeem", loyalty.RedeemRequest(item_id="i-1", quantity=1)),
]
STAFFS = [  # (stub, rpc, request): staff only
    ("loyalty_admin", "ListTiers", loyalty.ListTiersRequest()),
    ("loyalty_admin", "GetLoyaltySettings", loyalty.GetLoyaltySettingsRequest()),
    ("loyalty_admin", "ListAllMallItems", loyalty.ListAllMallItemsRequest()),
    ("loyalty_admin", "PutMallItem", loyalty.MallItem(kind="gift", title="袋", points_price=1)),
    ("partners", "ListPartnerCredentials", partner.ListPartnerCredentialsRequest()),
    ("partners", "RevokePartnerCredential", partner.RevokePartnerCredentialRequest(key_id="pk_x")),
]  # staff administration checks the caller's account itself: test_admins_manage_staff


@pytest.mark.parametrize("stub, rpc, request_", SHOPPERS_OWN, ids=[r for _, r, _ in SHOPPERS_OWN])
def test_a_shoppers_own_data_needs_a_signed_in_caller(stubs, stub, rpc, request_):
    assert code_of(getattr(getattr(stubs, stub), rpc), request_) == Code.UNAUTHENTICATED


@pytest.mark.parametrize("stub, rpc, request_", STAFFS, ids=[r for _, r, _ in STAFFS])
def test_staff_rpcs_refuse_a_shopper(stubs, shopper, stub, rpc, request_):
    _, me = shopper
    assert code_of(getattr(getattr(stubs, stub), rpc), request_, metadata=me) == \
        Code.PERMISSION_DENIED
