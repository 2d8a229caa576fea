import socket

from servicekit.ports import LOWEST, bindable, ephemeral_start, free_port


def test_a_free_port_lies_below_the_range_the_kernel_gives_outgoing_connections():
    ports = {free_port() for _ in range(20)}
    if ephemeral_start() - 1 <= LOWEST:  # a machine whose ephemeral range leaves no room below
        assert all(bindable(p) for p in ports)
        return
    assert all(LOWEST <= p < ephemeral_start() for p in ports)
    assert len(ports) > 1  # chosen at random: two test sessions rarely meet


def test_a_port_someone_listens_on_is_not_bindable():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port()))
        listener.listen()
        port = listener.getsockname()[1]
        assert not bindable(port)
    assert bindable(port)
