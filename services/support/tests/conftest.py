import pytest


@pytest.fixture
def runtime(runtime_for):
    return runtime_for("support")
