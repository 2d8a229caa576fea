"""Member test fixtures: the WeChat stand-in over real HTTP, and the member API as a client sees it."""

import pytest
from mall.member.v1 import member_pb2, member_pb2_grpc

from standins.wechat import serving_member

from .helpers import as_user

APPID, SECRET = "wxmembertest00001", "member-test-secret"


@pytest.fixture(scope="session")
def wechat():
    with serving_member(APPID, SECRET) as running:
        yield running


@pytest.fixture
def auth(wechat, grpc_stub_for):
    return grpc_stub_for("member", member_pb2_grpc.AuthServiceStub)


@pytest.fixture
def staff_api(wechat, grpc_stub_for):
    return grpc_stub_for("member", member_pb2_grpc.StaffServiceStub)


@pytest.fixture
def member_runtime(runtime_for):
    return runtime_for("member")


@pytest.fixture
def admin(staff_api, auth):
    """The bootstrapped admin: (staff id, password, metadata to call as them)."""
    made = staff_api.EnsureAdmin(member_pb2.EnsureAdminRequest(), metadata=as_user("seed", "admin"))
    assert made.created and made.generated_password
    return made.admin.staff_id, made.generated_password, as_user(made.admin.staff_id, "admin")


@pytest.fixture
def profile_api(wechat, grpc_stub_for):
    from mall.member.v1 import profile_pb2_grpc
    return grpc_stub_for("member", profile_pb2_grpc.ProfileServiceStub)


@pytest.fixture
def shopper(auth):
    """sign_in("name") -> (member id, metadata to call as them); each name a new shopper."""
    import uuid

    def sign_in(name: str = "shopper"):
        login = auth.WechatLogin(member_pb2.WechatLoginRequest(code=f"{name}{uuid.uuid4().hex[:8]}~1"))
        return login.member_id, as_user(login.member_id)

    return sign_in


@pytest.fixture
def loyalty_api(wechat, grpc_stub_for):
    from mall.member.v1 import loyalty_pb2_grpc
    return grpc_stub_for("member", loyalty_pb2_grpc.LoyaltyServiceStub)


@pytest.fixture
def loyalty_admin(wechat, grpc_stub_for):
    from mall.member.v1 import loyalty_pb2_grpc
    return grpc_stub_for("member", loyalty_pb2_grpc.LoyaltyAdminServiceStub)


@pytest.fixture
def operator_md():
    return as_user("00000000-0000-4000-8000-000000000001", "operator")


@pytest.fixture
def coupon_template(grpc_target_for, monkeypatch):
    """make(**spec) -> the id of a real coupon template in promotion's in-process server, which
    member's api is pointed at (PutMallItem asks it whether the template can be issued)."""
    from google.protobuf.timestamp_pb2 import Timestamp
    from mall.promotion.v1 import promotion_pb2, promotion_pb2_grpc

    from servicekit import grpc_client
    from servicekit.times import utcnow

    target = grpc_target_for("promotion")
    monkeypatch.setenv("MALL_PROMOTION_GRPC_TARGET", target)
    stub = promotion_pb2_grpc.PromotionServiceStub(grpc_client.channel("promotion", target=target))

    def make(valid_seconds: int = 30 * 86400, total_quantity: int = 1000) -> str:
        start, until = Timestamp(), Timestamp()
        start.FromDatetime(utcnow())
        until.FromSeconds(start.seconds + valid_seconds)
        spec = promotion_pb2.CouponTemplateSpec(
            name="积分兑换10元券", kind=promotion_pb2.NO_THRESHOLD, amount_fen=1000,
            window=promotion_pb2.ValidityWindow(valid_from=start, valid_until=until),
            per_member_limit=1, total_quantity=total_quantity, scope=promotion_pb2.ALL)
        made = stub.CreateCouponTemplate(promotion_pb2.CreateCouponTemplateRequest(spec=spec),
                                         metadata=as_user("00000000-0000-4000-8000-000000000001",
                                                          "operator"))
        return made.id
    return make
