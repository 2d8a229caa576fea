import pytest


@pytest.fixture(autouse=True)
def rules_never_cached(monkeypatch):
    """Tables are emptied between tests while the test server lives on: its rule cache must not
    carry one test's campaigns into the next (the cache itself is tested in test_rulebook)."""
    monkeypatch.setenv("MALL_PROMOTION_RULES_TTL_SECONDS", "0")


@pytest.fixture(autouse=True)
def no_catalog(monkeypatch):
    """Promotion's own tests name made-up SKUs and run no catalog: the check that campaigns name
    what catalog has is tested with a real catalog server (test_references)."""
    monkeypatch.setenv("MALL_PROMOTION_CHECK_CATALOG", "0")


@pytest.fixture
def runtime(runtime_for):
    return runtime_for("promotion")


@pytest.fixture
def stub(runtime, grpc_stub_for):
    """A PromotionService stub on the real server (test database)."""
    from mall.promotion.v1 import promotion_pb2_grpc
    return grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)


@pytest.fixture
def members(runtime_for, grpc_target_for, monkeypatch):
    """members("m-1", ...) makes those ids live members of member's real server (in-process, test
    database), the one promotion's staff issue asks (MembersExist)."""
    from services.member.testing import add_member_ids

    member = runtime_for("member")
    monkeypatch.setenv("MALL_MEMBER_GRPC_TARGET", grpc_target_for("member"))
    return lambda *ids, deleted=False: add_member_ids(member, ids, deleted=deleted)
