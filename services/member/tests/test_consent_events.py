"""member.consent_changed: announced in the transaction of a grant or a withdrawal, with a version
that grows, and not for a save that changes nothing; analytics is a purpose as well."""
from mall.member.v1 import profile_pb2

from servicekit.testing import outbox_events


def say(profile_api, md, purpose, granted, source="miniprogram:settings"):
    return profile_api.RecordConsent(profile_pb2.RecordConsentRequest(
        purpose=purpose, granted=granted, source=source), metadata=md)


def announced(member_runtime, member_id):
    return [e["data"] for e in outbox_events(member_runtime, "member.consent_changed")
            if e["data"]["memberId"] == member_id]


def test_a_grant_and_a_withdrawal_are_announced_a_repeat_is_not(profile_api, shopper,
                                                                 member_runtime):
    member_id, md = shopper("consentev")
    say(profile_api, md, "marketing", True, "miniprogram:register")
    say(profile_api, md, "marketing", True)            # said again: nothing changes
    say(profile_api, md, "marketing", False)
    say(profile_api, md, "marketing", False)           # withdrawn again: nothing changes
    events = announced(member_runtime, member_id)
    assert [(e["purpose"], e.get("granted", False)) for e in events] == [
        ("marketing", True), ("marketing", False)]
    assert int(events[0]["version"]) < int(events[1]["version"])  # int64: a string in JSON
    assert all(e["changedAt"].endswith("Z") for e in events)
    history = profile_api.ListConsents(profile_pb2.ListConsentsRequest(), metadata=md).history
    assert len(history) == 4  # every save is still kept in the history


def test_withdrawing_what_was_never_granted_announces_nothing(profile_api, shopper,
                                                              member_runtime):
    member_id, md = shopper("neverasked")
    say(profile_api, md, "marketing", False)  # no record already means no consent (opt-in)
    assert announced(member_runtime, member_id) == []
    assert not profile_api.GetProfile(profile_pb2.GetProfileRequest(), metadata=md).marketing_consent


def test_analytics_consent_is_its_own_purpose(profile_api, shopper, member_runtime):
    member_id, md = shopper("analyticsev")
    say(profile_api, md, "analytics", True)
    [event] = announced(member_runtime, member_id)
    assert (event["purpose"], event["granted"]) == ("analytics", True)
    current = profile_api.ListConsents(profile_pb2.ListConsentsRequest(), metadata=md).current
    assert [(c.purpose, c.granted) for c in current] == [("analytics", True)]
    assert not profile_api.GetProfile(profile_pb2.GetProfileRequest(), metadata=md).marketing_consent


def test_current_consents_are_announced_again_for_late_readers(profile_api, shopper, member_runtime):
    from servicekit.times import utcnow
    from services.member.announce_consents import announce_current
    from services.member.models import ConsentRecord

    member_id, md = shopper("beforeevents")
    with member_runtime.transaction() as s:  # recorded before member announced consents
        for granted in (True, False, True):
            s.add(ConsentRecord(member_id=member_id, purpose="marketing", granted=granted,
                                source="miniprogram:register", recorded_at=utcnow()))
    say(profile_api, md, "analytics", True)
    before = len(announced(member_runtime, member_id))
    announce_current(member_runtime)
    again = announced(member_runtime, member_id)[before:]
    assert sorted((e["purpose"], e["granted"]) for e in again) == [("analytics", True),
                                                                  ("marketing", True)]
    latest = {e["purpose"]: e["version"] for e in announced(member_runtime, member_id)[:before]}
    assert {e["purpose"]: e["version"] for e in again}["analytics"] == latest["analytics"]
