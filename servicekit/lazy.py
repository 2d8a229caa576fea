"""Things a process makes once, on first use (a tokenizer's dictionary, a pooled HTTP client)."""
from __future__ import annotations

import functools
import threading
from typing import Callable, TypeVar

T = TypeVar("T")


def once(factory: Callable[[], T]) -> Callable[[], T]:
    """`factory()` made on the first call and returned from then on; threads racing on that first
    call wait for the one that makes it (functools.cache would let each make its own)."""
    lock = threading.Lock()
    made: list[T] = []

    @functools.wraps(factory)
    def get() -> T:
        if not made:
            with lock:
                if not made:
                    made.append(factory())
        return made[0]
    return get
