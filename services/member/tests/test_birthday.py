"""Birthday gifts: in the birthday month (Asia/Shanghai), once a year, only when staff configured
a coupon template; several worker replicas grant each gift once."""
import threading
from datetime import date

from mall.member.v1 import loyalty_pb2, profile_pb2
from sqlalchemy import func, select

from services.member.loyalty import birthday
from services.member.models import BirthdayGrant
from services.member.profile.vault import default_vault

from .helpers import outbox_events


def born(profile_api, shopper, birthday_text):
    member_id, md = shopper("bday")
    profile_api.UpdateProfile(profile_pb2.UpdateProfileRequest(birthday=birthday_text), metadata=md)
    return member_id


def set_template(loyalty_admin, md, template):
    current = loyalty_admin.GetLoyaltySettings(loyalty_pb2.GetLoyaltySettingsRequest(), metadata=md)
    current.birthday_coupon_template_id = template
    loyalty_admin.UpdateLoyaltySettings(current, metadata=md)


def test_gifts_once_a_year_in_the_birthday_month(member_runtime, profile_api, shopper,
                                                 loyalty_admin, operator_md):
    june = born(profile_api, shopper, "1996-06-30")
    july = born(profile_api, shopper, "1990-07-01")
    vault = default_vault()
    assert birthday.grant_due(member_runtime, vault, date(2026, 6, 1)) == 0  # none configured
    set_template(loyalty_admin, operator_md, "tpl-birthday")
    assert birthday.grant_due(member_runtime, vault, date(2026, 6, 1)) == 1
    assert birthday.grant_due(member_runtime, vault, date(2026, 6, 2)) == 0  # once this year
    assert birthday.grant_due(member_runtime, vault, date(2026, 7, 1)) == 1  # july's turn
    assert birthday.grant_due(member_runtime, vault, date(2027, 6, 15)) == 1  # next year
    events = [(e["data"]["memberId"], e["data"]["year"], e["data"]["couponTemplateId"])
              for e in outbox_events(member_runtime, "member.birthday_gift_granted")]
    assert events == [(june, 2026, "tpl-birthday"), (july, 2026, "tpl-birthday"),
                      (june, 2027, "tpl-birthday")]
    grant_ids = {e["id"] for e in outbox_events(member_runtime, "member.birthday_gift_granted")}
    assert grant_ids == {e["data"]["grantId"] for e in
                         outbox_events(member_runtime, "member.birthday_gift_granted")}


def test_replicas_racing_grant_each_gift_once(member_runtime, profile_api, shopper, loyalty_admin,
                                              operator_md):
    for _ in range(12):
        born(profile_api, shopper, "1999-03-08")
    set_template(loyalty_admin, operator_md, "tpl-birthday")
    counts, start = [], threading.Barrier(4)

    def replica():
        start.wait()
        counts.append(birthday.grant_due(member_runtime, default_vault(), date(2026, 3, 8)))

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 12
    with member_runtime.transaction() as s:
        assert s.scalar(select(func.count()).select_from(BirthdayGrant)) == 12
    assert len(outbox_events(member_runtime, "member.birthday_gift_granted")) == 12
