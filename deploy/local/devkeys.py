"""Development keys for `make run` and the end-to-end suite: the payment providers' merchant and
platform keys, serials, APIv3 key and Alipay app keys, written once into <var>/payment-keys
(never committed) and read from there by payment and its provider stand-ins."""
from __future__ import annotations

from pathlib import Path

from servicekit.config import REPO_ROOT


def ensure_payment_keys(env: dict[str, str]) -> Path:
    """Creates them on first start in the var directory `env` names; later starts keep them."""
    from services.payment import devkeys  # the generator lives with the service that reads them

    var = Path(env.get("MALL_VAR_DIR") or REPO_ROOT / "var")
    if not var.is_absolute():
        var = REPO_ROOT / var
    return devkeys.ensure(Path(env.get("MALL_PAYMENT_KEY_DIR") or var / "payment-keys"))
