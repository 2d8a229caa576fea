import threading
import time
from concurrent.futures import ThreadPoolExecutor

from servicekit.lazy import once


def test_threads_racing_on_the_first_call_share_one_made_thing():
    calls = []
    started = threading.Barrier(8)

    @once
    def slow():
        calls.append(1)
        time.sleep(0.05)  # long enough for every racer to arrive while it is being made
        return object()

    def race(_):
        started.wait()
        return slow()

    with ThreadPoolExecutor(8) as pool:
        made = set(map(id, pool.map(race, range(8))))
    assert len(calls) == 1 and made == {id(slow())}


def test_a_factory_that_fails_is_tried_again_next_time():
    attempts = []

    @once
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("not yet")
        return "ready"

    try:
        flaky()
    except ConnectionError:
        pass
    assert flaky() == "ready" and flaky() == "ready" and len(attempts) == 2
