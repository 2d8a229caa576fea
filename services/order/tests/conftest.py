# TEMPORARY until servicekit.testing lands: a runtime on a scratch PostgreSQL database.
import dataclasses

import psycopg2
import pytest

from servicekit.config import Settings
from servicekit.runtime import Runtime


@pytest.fixture
def runtime():
    from services.order.models import Base
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'mall_scratch_order'")
        if not cur.fetchone():
            cur.execute("CREATE DATABASE mall_scratch_order")
    conn.close()
    settings = dataclasses.replace(Settings.load("order"),
                                   database_url="postgresql+psycopg2://postgres@127.0.0.1/mall_scratch_order")
    rt = Runtime("order", Base, settings)
    Base.metadata.drop_all(rt.engine)
    Base.metadata.create_all(rt.engine)
    yield rt
    rt.dispose()
