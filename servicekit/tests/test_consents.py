"""servicekit.consents: the read model of member.consent_changed keeps the newest word per member
and purpose whatever order the events come in; nothing known is no consent (opt-in)."""
from dataclasses import dataclass

import pytest
from sqlalchemy import MetaData

from servicekit import consents, testing
from servicekit.db import make_engine, make_sessionmaker, transaction


@dataclass
class Change:  # what mall.events.v1.ConsentChanged carries
    member_id: str
    purpose: str
    granted: bool
    version: int
    changed_at: str = "2026-12-01T08:00:00Z"


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    if request.param == "sqlite":
        url, made = f"sqlite:///{tmp_path / 'consents.db'}", []
    elif testing.use_postgres():
        made = [testing.database_name("kit_consents")]
        url = testing.create_database(made[0])
    else:
        pytest.skip("PostgreSQL does not answer")
    engine = make_engine(url)
    metadata = MetaData()
    consents.add_to(metadata)
    metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()
    testing.drop_databases(made)


def apply(sessions, *changes) -> list[bool]:
    with transaction(sessions) as session:
        return [consents.apply(session, change) for change in changes]


def granted(sessions, member_id, purpose=consents.MARKETING) -> bool:
    with transaction(sessions) as session:
        return consents.granted(session, member_id, purpose)


def test_nothing_known_is_no_consent(sessions):
    assert not granted(sessions, "m-1")
    assert not granted(sessions, "")


def test_the_newest_version_wins_in_any_order(sessions):
    assert apply(sessions, Change("m-1", "marketing", True, 1)) == [True]
    assert granted(sessions, "m-1")
    assert not granted(sessions, "m-1", consents.ANALYTICS)  # each purpose on its own
    assert apply(sessions, Change("m-1", "marketing", False, 3),
                 Change("m-1", "marketing", True, 2),      # older, late
                 Change("m-1", "marketing", False, 3)) == [True, False, False]  # redelivered
    assert not granted(sessions, "m-1")
    assert apply(sessions, Change("m-1", "marketing", True, 4)) == [True]
    assert granted(sessions, "m-1") and not granted(sessions, "m-2")


def test_forget_drops_a_member_and_a_purpose_named_later_is_kept(sessions):
    apply(sessions, Change("m-1", "marketing", True, 1), Change("m-1", "analytics", True, 2),
          Change("m-2", "marketing", True, 3))
    with transaction(sessions) as session:
        assert consents.forget(session, "m-1") == 2
    assert not granted(sessions, "m-1") and granted(sessions, "m-2")
    assert apply(sessions, Change("m-1", "personalisation", True, 9)) == [True]  # a later purpose
    with pytest.raises(ValueError, match="purpose"):
        apply(sessions, Change("m-1", "", True, 10))
    with pytest.raises(ValueError, match="purpose"):
        granted(sessions, "m-1", "spam")


def test_granted_among_answers_a_batch_at_once(sessions):
    apply(sessions, Change("m-1", "analytics", True, 1), Change("m-2", "analytics", False, 2),
          Change("m-3", "marketing", True, 3))
    with transaction(sessions) as session:
        assert consents.granted_among(session, ["m-1", "m-2", "m-3", "m-4", ""],
                                      consents.ANALYTICS) == {"m-1"}
        assert consents.granted_among(session, [], consents.ANALYTICS) == set()
