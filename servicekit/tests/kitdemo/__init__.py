"""A tiny service used only to test and benchmark the kit itself: it has no proto of its own
(its RPCs use well-known wrapper messages) so the kit's tests depend on no real service."""
from servicekit import service
from servicekit.config import EXTRA_SERVICES

NAME = "kitdemo"
EXTRA_SERVICES.setdefault(NAME, (0, 0, 0))
service.PACKAGES[NAME] = "servicekit.tests.kitdemo"
