"""The plumbing every service of the mall uses, and nothing domain-specific.

A service is named by one word (``catalog``, ``order`` ...). From that name the kit derives its
settings (``MALL_<SERVICE>_...``), its database, its gRPC port, its event exchange
(``<service>.events``) and its processes (``python -m servicekit api|worker|migrate <service>``).
"""
