"""`make run`'s own decisions, without starting the suite: what it does when RabbitMQ is missing,
and that the demo admin's password survives from one run to the next."""
from __future__ import annotations

import stat

import pytest

from deploy.local import broker, run, seed
from servicekit.ports import free_port


@pytest.fixture
def dead_broker_url(monkeypatch) -> str:
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    monkeypatch.setenv("MALL_AMQP_URL", url)
    return url


def test_without_rabbitmq_installed_make_run_says_how_to_get_it_and_fails(
        dead_broker_url, monkeypatch, capsys):
    monkeypatch.setattr(broker.shutil, "which", lambda _name: None)
    assert run.main() == 2
    err = capsys.readouterr().err
    assert "apt-get install rabbitmq-server" in err
    assert "guest@" not in err  # the broker's password is not printed


def test_when_starting_rabbitmq_fails_the_message_says_so(dead_broker_url, monkeypatch):
    monkeypatch.setattr(broker.shutil, "which", lambda _name: "/bin/false")
    with pytest.raises(broker.BrokerUnavailable, match="rabbitmq-server -detached` failed"):
        broker.ensure_broker(dead_broker_url, say=lambda _text: None)


def test_a_running_broker_is_used_as_it_is():
    url = "amqp://guest:guest@127.0.0.1:5672/"
    if not broker.broker_answers(url):
        pytest.skip("no RabbitMQ here")
    broker.ensure_broker(url, say=pytest.fail)  # nothing to start, nothing to say


def test_the_demo_admin_password_is_made_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("MALL_ADMIN_PASSWORD", raising=False)
    first = seed.demo_admin_environment(tmp_path)
    again = seed.demo_admin_environment(tmp_path)
    assert first == again and len(first["MALL_ADMIN_PASSWORD"]) >= 12
    mode = stat.S_IMODE((tmp_path / "demo_admin_password").stat().st_mode)
    assert mode & 0o077 == 0


def test_a_chosen_admin_password_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("MALL_ADMIN_PASSWORD", "chosen-by-me-123")
    assert seed.demo_admin_environment(tmp_path)["MALL_ADMIN_PASSWORD"] == "chosen-by-me-123"
    assert not (tmp_path / "demo_admin_password").exists()


def test_the_banner_gives_the_address_some_urls_and_the_admin(monkeypatch):
    shop = seed.DemoShop(admin_username="admin", admin_password="s3cret-pass")
    text = run.banner("http://127.0.0.1:8000", shop)
    for expected in ("http://127.0.0.1:8000/openapi.json", "http://127.0.0.1:8000/v1/products",
                     "username: admin", "password: s3cret-pass", "Ctrl-C"):
        assert expected in text


def test_make_run_refuses_to_start_a_second_suite_on_a_taken_gateway_port(monkeypatch, capsys):
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setenv("MALL_GATEWAY_PORT", str(listener.getsockname()[1]))
        assert run.main() == 1
    assert "already listens" in capsys.readouterr().err


def test_a_failed_seed_is_tried_again_and_then_given_up_without_stopping_the_suite(monkeypatch,
                                                                                    tmp_path):
    from deploy.local.launcher import Suite

    calls = []

    def flaky(admin_password, say):
        calls.append(admin_password)
        if len(calls) < 3:
            raise TimeoutError("catalog did not become SERVING")
        return seed.DemoShop(admin_username="admin", admin_password=admin_password)

    suite = Suite({}, {}, log_dir=tmp_path)
    monkeypatch.setattr(seed, "seed_demo_shop", flaky)
    assert run.seed_with_retries("pw-123", suite).admin_password == "pw-123"
    assert len(calls) == 3

    monkeypatch.setattr(seed, "seed_demo_shop", lambda *_a, **_k: (_ for _ in ()).throw(
        TimeoutError("down")))
    shop = run.seed_with_retries("pw-123", suite)
    assert "seeding the demo shop failed" in shop.notes[0]
