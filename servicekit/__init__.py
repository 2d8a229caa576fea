"""The plumbing every service of the mall uses, and nothing domain-specific.

A service is named by one word (``catalog``, ``order`` ...). From that name the kit derives its
settings (``MALL_<SERVICE>_...``), its database, its gRPC port, its event exchange
(``<service>.events``) and its processes (``python -m servicekit api|worker|migrate <service>``).
"""

import sys as _sys
from pathlib import Path as _Path

# Generated protos live in gen/ (built by `make protos`, never committed): make them importable
# for every entry point (processes, benchmarks, seeds) without each setting PYTHONPATH.
_GEN = str(_Path(__file__).resolve().parent.parent / "gen")
if _GEN not in _sys.path:
    _sys.path.append(_GEN)
