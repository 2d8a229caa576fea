"""make run keeps catalog in SQLite: concurrent staff writes must queue, not fail."""
import dataclasses
import threading

from mall.catalog.v1 import catalog_pb2 as pb

from servicekit import migrate
from servicekit.config import Settings
from servicekit.runtime import Runtime
from services.catalog import categories, products
from services.catalog.models import Base, Product

from .helpers import count


def test_concurrent_writers_on_sqlite_take_turns(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    migrate.upgrade("catalog", url)
    rt = Runtime("catalog", Base, dataclasses.replace(Settings.load("catalog"), database_url=url))
    try:
        with rt.transaction() as s:
            style = categories.create_category(s, pb.CategoryInput(kind=pb.STYLE, name="内裤")).id
        errors = []

        def write(i):
            try:
                for j in range(5):
                    with rt.transaction() as s:  # reads first, then writes: the risky shape
                        products.create_product(rt, s, pb.ProductInput(
                            title=f"内裤{i}-{j}", category_id=style, size_system=pb.LETTER),
                            [pb.SkuInput(code=f"T{i}-{j}-{k}", size="M", colour=f"色{k}",
                                         price_fen=100) for k in range(4)])
            except Exception as err:  # noqa: BLE001 - collected for the assertion
                errors.append(repr(err))

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert count(rt, Product) == 20
    finally:
        rt.dispose()
