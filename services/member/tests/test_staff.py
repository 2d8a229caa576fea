"""Staff accounts through the member API: bootstrap, sign-in, admin-only management."""
import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.member.v1 import member_pb2

from servicekit.errors import FailedPrecondition, InvalidArgument, violations_from_trailers
from services.member import bootstrap
from services.member.identity import passwords
from services.member.identity.staff import enabled_admins
from services.member.models import Staff

from .helpers import as_user, claims, rpc_error

GOOD_PASSWORD = "a-long-enough-password"


def create(staff_api, admin_md, username, roles=("operator",), password=GOOD_PASSWORD):
    return staff_api.CreateStaff(member_pb2.CreateStaffRequest(
        username=username, password=password, roles=list(roles)), metadata=admin_md)


def test_ensure_admin_is_idempotent_and_returns_the_password_once(staff_api, admin):
    admin_id, password, _ = admin
    again = staff_api.EnsureAdmin(member_pb2.EnsureAdminRequest(),
                                  metadata=as_user("seed", "admin"))
    assert not again.created and again.generated_password == ""
    assert again.admin.staff_id == admin_id and again.admin.roles == ["admin"]
    assert len(password) >= 10


def test_ensure_admin_needs_the_admin_role(staff_api):
    err = rpc_error(staff_api.EnsureAdmin, member_pb2.EnsureAdminRequest())
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_bootstrap_takes_the_first_admin_from_the_environment(member_runtime, monkeypatch):
    monkeypatch.setenv("MALL_ADMIN_USERNAME", "Boss")
    monkeypatch.setenv("MALL_ADMIN_PASSWORD", "boss-password-123")
    made = bootstrap.ensure_admin(member_runtime)
    assert made.created and made.generated_password == ""
    assert made.admin.username == "boss"
    assert passwords.verify_password(made.admin.password_hash, "boss-password-123")
    assert not bootstrap.ensure_admin(member_runtime).created


def test_bootstrap_refuses_a_short_admin_password(member_runtime, monkeypatch):
    monkeypatch.setenv("MALL_ADMIN_PASSWORD", "short")
    with pytest.raises(InvalidArgument) as err:
        bootstrap.ensure_admin(member_runtime)
    assert err.value.violations[0].field == "MALL_ADMIN_PASSWORD"
    with member_runtime.transaction() as s:
        assert s.query(Staff).count() == 0


def test_bootstrap_will_not_silently_promote_an_existing_non_admin(member_runtime, staff_api,
                                                                   admin):
    admin_id, _, admin_md = admin
    create(staff_api, admin_md, "ops1")
    with member_runtime.transaction() as s:  # no enabled admin left (an operator's slip)
        s.query(Staff).filter(Staff.id == admin_id).update({"disabled": True})
    with pytest.raises(FailedPrecondition):
        bootstrap.ensure_admin(member_runtime, username="ops1", password=GOOD_PASSWORD)


def test_staff_login_gives_tokens_with_roles(auth, admin):
    admin_id, password, _ = admin
    login = auth.StaffLogin(member_pb2.StaffLoginRequest(username="ADMIN", password=password))
    assert login.staff.staff_id == admin_id
    access = claims(login.tokens.access_token)
    assert access["kind"] == "staff" and access["roles"] == ["admin"] and access["sub"] == admin_id


def test_wrong_password_unknown_user_and_disabled_account_look_the_same(auth, staff_api, admin):
    _, password, admin_md = admin
    op = create(staff_api, admin_md, "ops2")
    staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(staff_id=op.staff_id, disabled=True),
                          metadata=admin_md)
    errors = [rpc_error(auth.StaffLogin, member_pb2.StaffLoginRequest(username=u, password=p))
              for u, p in (("admin", "wrong-password!"), ("nobody", password),
                           ("ops2", GOOD_PASSWORD))]
    assert {e.code() for e in errors} == {grpc.StatusCode.UNAUTHENTICATED}
    assert len({e.details() for e in errors}) == 1


def test_staff_login_needs_both_fields(auth):
    err = rpc_error(auth.StaffLogin, member_pb2.StaffLoginRequest())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in violations_from_trailers(err.trailing_metadata())} == \
        {"username", "password"}


def test_create_staff_reports_every_bad_field_and_writes_nothing(staff_api, admin):
    _, _, admin_md = admin
    err = rpc_error(create, staff_api, admin_md, "9lives", roles=["operator", "root"],
                    password="short")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = {(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())}
    assert found == {("username", "format"), ("password", "min_length"),
                     ("roles[1]", "known_role")}
    listed = staff_api.ListStaff(member_pb2.ListStaffRequest(), metadata=admin_md)
    assert [s.username for s in listed.staff] == ["admin"]


def test_create_staff_refuses_a_duplicate_username(staff_api, admin):
    _, _, admin_md = admin
    made = create(staff_api, admin_md, "Li.Na", roles=["cs_agent", "analyst"])
    assert made.username == "li.na" and made.roles == ["cs_agent", "analyst"]
    err = rpc_error(create, staff_api, admin_md, "li.na")
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS


def test_only_an_enabled_admin_manages_staff(staff_api, auth, admin):
    _, _, admin_md = admin
    op = create(staff_api, admin_md, "ops3")
    # The gateway says "admin", but the database knows better: roles are read from it.
    forged = as_user(op.staff_id, "admin")
    assert rpc_error(create, staff_api, forged, "ops4").code() == \
        grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(staff_api.ListStaff, member_pb2.ListStaffRequest()).code() == \
        grpc.StatusCode.UNAUTHENTICATED


def test_list_staff_pages_through_usernames(staff_api, admin):
    _, _, admin_md = admin
    for name in ("carol", "bob", "dave", "erin"):
        create(staff_api, admin_md, name)
    gone = create(staff_api, admin_md, "zed")
    staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(staff_id=gone.staff_id, disabled=True),
                          metadata=admin_md)
    seen, token = [], ""
    while True:
        page = staff_api.ListStaff(member_pb2.ListStaffRequest(
            page=common_pb2.PageRequest(page_size=2, page_token=token)), metadata=admin_md)
        seen += [s.username for s in page.staff]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == ["admin", "bob", "carol", "dave", "erin"]
    everyone = staff_api.ListStaff(member_pb2.ListStaffRequest(include_disabled=True),
                                   metadata=admin_md)
    assert [s.username for s in everyone.staff][-1] == "zed"
    err = rpc_error(staff_api.ListStaff, member_pb2.ListStaffRequest(
        page=common_pb2.PageRequest(page_token="forged.token")), metadata=admin_md)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_update_staff_changes_only_what_is_set(staff_api, admin):
    _, _, admin_md = admin
    op = create(staff_api, admin_md, "wh1", roles=["warehouse"])
    renamed = staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(
        staff_id=op.staff_id, display_name="Warehouse One"), metadata=admin_md)
    assert renamed.roles == ["warehouse"] and not renamed.disabled
    promoted = staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(
        staff_id=op.staff_id, roles=member_pb2.StaffRoles(roles=["warehouse", "analyst"])),
        metadata=admin_md)
    assert promoted.roles == ["warehouse", "analyst"] and promoted.display_name == "Warehouse One"
    bad = rpc_error(staff_api.UpdateStaff, member_pb2.UpdateStaffRequest(
        staff_id=op.staff_id, roles=member_pb2.StaffRoles(roles=[])), metadata=admin_md)
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    missing = rpc_error(staff_api.UpdateStaff, member_pb2.UpdateStaffRequest(
        staff_id="8d3f0b8e-6f4a-4d0e-9a55-8d0f6d9e2f11", disabled=True), metadata=admin_md)
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(staff_api, admin):
    admin_id, _, admin_md = admin
    for change in (member_pb2.UpdateStaffRequest(staff_id=admin_id, disabled=True),
                   member_pb2.UpdateStaffRequest(staff_id=admin_id,
                                                 roles=member_pb2.StaffRoles(roles=["analyst"]))):
        err = rpc_error(staff_api.UpdateStaff, change, metadata=admin_md)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    second = create(staff_api, admin_md, "admin2", roles=["admin"])
    staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(staff_id=admin_id, disabled=True),
                          metadata=as_user(second.staff_id, "admin"))


def test_get_me_as_staff(auth, admin):
    admin_id, _, admin_md = admin
    me = auth.GetMe(member_pb2.GetMeRequest(), metadata=admin_md)
    assert me.WhichOneof("account") == "staff" and me.staff.staff_id == admin_id


def test_change_password(auth, admin):
    admin_id, password, admin_md = admin
    old_session = auth.StaffLogin(member_pb2.StaffLoginRequest(username="admin",
                                                               password=password))
    wrong = rpc_error(auth.ChangePassword, member_pb2.ChangePasswordRequest(
        current_password="not-my-password", new_password="brand-new-password"),
        metadata=admin_md)
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    short = rpc_error(auth.ChangePassword, member_pb2.ChangePasswordRequest(
        current_password=password, new_password="2short"), metadata=admin_md)
    assert short.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in violations_from_trailers(short.trailing_metadata())] == \
        ["new_password"]

    changed = auth.ChangePassword(member_pb2.ChangePasswordRequest(
        current_password=password, new_password="brand-new-password"), metadata=admin_md)
    assert claims(changed.tokens.access_token)["sub"] == admin_id
    assert rpc_error(auth.StaffLogin, member_pb2.StaffLoginRequest(
        username="admin", password=password)).code() == grpc.StatusCode.UNAUTHENTICATED
    auth.StaffLogin(member_pb2.StaffLoginRequest(username="admin",
                                                 password="brand-new-password"))
    # Sessions from before the change are over; the one it returned goes on.
    assert rpc_error(auth.Refresh, member_pb2.RefreshRequest(
        refresh_token=old_session.tokens.refresh_token)).code() == \
        grpc.StatusCode.UNAUTHENTICATED
    auth.Refresh(member_pb2.RefreshRequest(refresh_token=changed.tokens.refresh_token))


def test_a_disabled_staff_member_has_no_profile(auth, staff_api, admin):
    _, _, admin_md = admin
    op = create(staff_api, admin_md, "ops9")
    staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(staff_id=op.staff_id, disabled=True),
                          metadata=admin_md)
    err = rpc_error(auth.GetMe, member_pb2.GetMeRequest(), metadata=as_user(op.staff_id))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


def test_two_admins_disabling_each_other_at_once_leave_one_admin(staff_api, admin,
                                                               member_runtime):
    import threading
    first_id, _, first_md = admin
    second = create(staff_api, first_md, "admin3", roles=["admin"])
    barrier = threading.Barrier(2)
    outcomes = []

    def disable(target, md):
        barrier.wait()
        try:
            staff_api.UpdateStaff(member_pb2.UpdateStaffRequest(staff_id=target, disabled=True),
                                  metadata=md)
            outcomes.append(grpc.StatusCode.OK)
        except grpc.RpcError as err:
            outcomes.append(err.code())

    threads = [threading.Thread(target=disable, args=(second.staff_id, first_md)),
               threading.Thread(target=disable, args=(first_id, as_user(second.staff_id)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # The second to run finds its own account disabled by the first.
    assert sorted(c.name for c in outcomes) == ["OK", "UNAUTHENTICATED"]
    with member_runtime.transaction() as s:
        assert len(enabled_admins(s)) == 1
