"""The revision that brings the consent read model keeps every fact stored before it, without the
member id none of them had consent to keep (the analytics purpose is new: nobody has it yet)."""
import json

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from servicekit import migrate, testing

BEFORE = "c58e017a3c1f"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'analytics.db'}"
        return
    if not testing.use_postgres():
        pytest.skip("PostgreSQL does not answer")
    name = testing.database_name("analytics_consents")
    yield testing.create_database(name)
    testing.drop_databases([name])


def test_upgrade_keeps_the_facts_without_their_member_ids(database_url):
    config = migrate.alembic_config("analytics", database_url)
    command.upgrade(config, BEFORE)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            for event_id, data in (("e-1", {"orderId": "o-1", "memberId": "m-1", "paidFen": "100"}),
                                   ("e-2", {"product": {"productId": "p-1"}})):
                conn.execute(text(
                    "INSERT INTO facts (event_id, event_type, source, occurred_at, day, data, "
                    "recorded_at) VALUES (:id, 'order.paid', 'order', '2026-12-01T08:00:00+00:00', "
                    "'2026-12-01', :data, '2026-12-01T08:00:00+00:00')"),
                    {"id": event_id, "data": json.dumps(data)})
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = {event_id: data if isinstance(data, dict) else json.loads(data) for event_id, data
                    in conn.execute(text("SELECT event_id, data FROM facts")).all()}
        assert rows == {"e-1": {"orderId": "o-1", "paidFen": "100"},
                        "e-2": {"product": {"productId": "p-1"}}}
    finally:
        engine.dispose()
