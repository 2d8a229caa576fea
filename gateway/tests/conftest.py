from .fixtures import jwt_secret, offline, settings  # noqa: F401  (pytest finds them here)
