import os

import pytest

from servicekit.tests import kitdemo


@pytest.fixture(autouse=True, scope="session")
def _kitdemo_loadable():
    """Processes started by the tests (workers) find the kit's test service too."""
    os.environ["MALL_SERVICE_PACKAGES"] = f"{kitdemo.NAME}=servicekit.tests.kitdemo"
