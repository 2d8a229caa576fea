from concurrent.futures import ThreadPoolExecutor

from servicekit import httpclient


def test_one_client_per_process_even_when_threads_race_for_it():
    with ThreadPoolExecutor(8) as pool:
        clients = set(map(id, pool.map(lambda _: httpclient.client(), range(32))))
    assert clients == {id(httpclient.client())}
    assert not httpclient.client().is_closed
