import pytest

from servicekit.media_storage import LocalDiskStorage

from .helpers import make_shop


@pytest.fixture
def rt(runtime_for):
    return runtime_for("catalog")


@pytest.fixture
def storage(tmp_path):
    return LocalDiskStorage(tmp_path / "media")


@pytest.fixture
def shop(rt):
    return make_shop(rt)
