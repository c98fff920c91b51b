"""Webhooks cannot be pointed inside the network (issue 17, point 2): loopback, private,
link-local (cloud metadata), CGNAT, unique-local, unspecified and multicast addresses are
refused in every spelling, when an endpoint is added and again on the resolved address when a
delivery connects (DNS rebinding); ``TOKENWARD_WEBHOOK_ALLOWED_NETWORKS`` opens ranges on
purpose; credentials in URLs are refused; the delivery log says no more than "unreachable"."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from notify_support import WebhookReceiver, admin_key, bearer, node, user_with_email
from starlette.testclient import TestClient

from tokenward.domain.addresses import AddressRules, parse_networks
from tokenward.domain.tokens import new_id
from tokenward.http.app import create_app
from tokenward.notify.webhooks import UNREACHABLE, Attempt, WebhookSender, new_secret
from tokenward.runtime import Runtime
from tokenward.settings import Settings, SettingsError
from tokenward.store.base import EventQuery, WebhookRecord
from tokenward.testing import TEST_ACTOR, FakeClock

# Every spelling of a refused address the issue lists, and the range it falls in.
REFUSED_URLS = [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]/hook", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://2130706433/", "loopback"),  # decimal
    ("http://127.1/", "loopback"),  # short
    ("http://0177.0.0.1/", "loopback"),  # octal
    ("http://0x7f.0.0.1/", "loopback"),  # hex
    ("http://0x7f000001/", "loopback"),  # one hex number
    ("http://localhost:8080/hook", "loopback"),
    ("http://LOCALHOST./hook", "loopback"),
    ("http://hooks.localhost/", "loopback"),  # RFC 6761: *.localhost is loopback too
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "loopback"),  # full-width digits
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "shared (CGNAT)"),
    ("http://[fd00::1]/", "unique-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
    ("http://[::ffff:a9fe:a9fe]/", "link-local"),  # the metadata service, mapped
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # ... through NAT64
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://255.255.255.255/", "reserved"),
]
CREDENTIAL_URLS = [
    "https://user:pw@hooks.example.org/hook",
    "https://user@hooks.example.org/hook",
    "https://:pw@hooks.example.org/hook",
]
PUBLIC_URLS = [
    "https://hooks.example.org/tw",  # a name: checked on its addresses at each delivery
    "http://93.184.215.14/hook",
    "http://[2606:4700::1111]/hook",
]
# Loopback spellings the resolver turns into 127.0.0.1 at connect time.
LOOPBACK_HOSTS = ["127.0.0.1", "2130706433", "127.1", "0x7f.0.0.1", "0x7f000001", "localhost"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """A store lookup may take up to 5 s before the API answers 503 (fail closed): these
    tests are about URLs, not about a machine too loaded to answer within the default 1 s."""
    return {"max_staleness": timedelta(seconds=5)}


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    """The API over the shared runtime: default settings, no range opened."""
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def headers(runtime: Runtime) -> dict[str, str]:
    return bearer(admin_key(runtime, user_with_email(runtime, "root", is_admin=True)).secret)


def _created(runtime: Runtime) -> list[Any]:
    with runtime.store.transaction() as tx:
        return tx.events.query(EventQuery(0, 1000, "webhook.created"))


def _create(web: TestClient, headers: dict[str, str], url: str) -> Any:
    body = {"url": url, "events": ["token.created"]}
    return web.post("/v1/admin/webhooks", json=body, headers=headers)


@pytest.mark.parametrize(("url", "reason"), REFUSED_URLS)
def test_an_internal_address_in_any_spelling_is_refused_when_added_and_nothing_is_stored(
    runtime: Runtime, web: TestClient, headers: dict[str, str], url: str, reason: str
) -> None:
    response = _create(web, headers, url)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "url" and f"points to a {reason} address" in error["message"]
    assert "TOKENWARD_WEBHOOK_ALLOWED_NETWORKS" in error["message"]
    assert web.get("/v1/admin/webhooks", headers=headers).json()["items"] == []
    assert _created(runtime) == []


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
def test_credentials_in_the_url_are_refused_and_not_echoed(
    runtime: Runtime, web: TestClient, headers: dict[str, str], url: str
) -> None:
    response = _create(web, headers, url)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "url" and "credentials" in error["message"]
    assert "pw" not in response.text.replace("password", "")
    assert _created(runtime) == []


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_addresses_and_names_are_accepted(
    web: TestClient, headers: dict[str, str], url: str
) -> None:
    assert _create(web, headers, url).status_code == 201


def test_an_opened_range_accepts_its_addresses_in_any_spelling(
    database_url: str, clock: FakeClock
) -> None:
    opened = node(database_url, clock)  # loopback opened, as for the tests' receivers
    try:
        root = user_with_email(opened, "root", is_admin=True)
        key = bearer(admin_key(opened, root).secret)
        with TestClient(create_app(opened)) as web:
            for url in ("http://127.0.0.1:9/", "http://2130706433/", "http://localhost/"):
                assert _create(web, key, url).status_code == 201, url
            assert _create(web, key, "http://10.0.0.1/").status_code == 422  # only that range
    finally:
        opened.close()


# --- at connect time, on the resolved address -----------------------------------------------


def _hook(url: str, clock: FakeClock) -> WebhookRecord:
    """An endpoint as stored, e.g. added before these rules existed."""
    return WebhookRecord(new_id("whk"), url, ("token.created",), new_secret(), clock.now(), "t", 0)


def _send(sender: WebhookSender, url: str, clock: FakeClock) -> Attempt:
    event = TEST_ACTOR.event("token.created", clock.now(), "tok_x", {"user_id": "usr_x"})
    return sender.send(_hook(url, clock), new_id("dlv"), event, clock.now())


@pytest.mark.parametrize("host", [*LOOPBACK_HOSTS, "[::ffff:127.0.0.1]"])
def test_a_stored_endpoint_on_loopback_is_refused_at_connect_time_and_nothing_is_sent(
    clock: FakeClock, host: str
) -> None:
    with WebhookReceiver() as receiver:
        attempt = _send(WebhookSender(timeout=2), f"http://{host}:{receiver.port}/h", clock)
    assert attempt == Attempt(False, None, "address not allowed (loopback)")
    assert receiver.received == []


def test_the_metadata_service_is_refused_before_any_connection(clock: FakeClock) -> None:
    attempt = _send(WebhookSender(timeout=30), "http://169.254.169.254/latest/meta-data/", clock)
    assert attempt == Attempt(False, None, "address not allowed (link-local)")


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_an_opened_range_is_reached_in_any_spelling(clock: FakeClock, host: str) -> None:
    sender = WebhookSender(timeout=2, rules=AddressRules(parse_networks(["127.0.0.0/8"])))
    with WebhookReceiver() as receiver:
        attempt = _send(sender, f"http://{host}:{receiver.port}/h", clock)
    assert attempt == Attempt(True, 204)
    assert len(receiver.received) == 1


class _Rebinding:
    """A resolver whose name answers ``first`` once, then ``then``: the classic rebinding
    (a check resolves, the connection resolves again and gets somewhere else)."""

    def __init__(self, first: str, then: str) -> None:
        self.answers = [first, then]
        self.calls = 0

    def __call__(self, host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        answer = self.answers[min(self.calls, 1)]
        self.calls += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]


def test_dns_rebinding_cannot_reach_a_refused_address(clock: FakeClock) -> None:
    """The name is resolved once per attempt and the connection goes to the very address that
    was checked: the "public" one here (127.0.0.2, opened on purpose), never the refused
    127.0.0.1 the name answers next."""
    opened = AddressRules(parse_networks(["127.0.0.2/32"]))
    with WebhookReceiver() as inside, WebhookReceiver(host="127.0.0.2", port=0) as outside:
        resolver = _Rebinding("127.0.0.2", "127.0.0.1")
        sender = WebhookSender(timeout=2, rules=opened, resolve=resolver)
        # Same port on both addresses, so only the address decides where the post lands.
        with WebhookReceiver(host="127.0.0.2", port=inside.port) as twin:
            first = _send(sender, f"http://rebind.example:{inside.port}/h", clock)
            second = _send(sender, f"http://rebind.example:{inside.port}/h", clock)
    assert first == Attempt(True, 204) and len(twin.received) == 1
    assert second == Attempt(False, None, "address not allowed (loopback)")
    assert inside.received == [] and outside.received == []
    assert resolver.calls == 2  # once per attempt: no second lookup to connect


def test_a_name_answering_one_refused_address_among_public_ones_is_refused(
    clock: FakeClock,
) -> None:
    def mixed(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port)),
        ]

    attempt = _send(WebhookSender(timeout=30, resolve=mixed), "https://mixed.example/h", clock)
    assert attempt == Attempt(False, None, "address not allowed (private)")


# --- no port-open oracle ---------------------------------------------------------------------


class _Silent:
    """A TCP server on loopback that accepts and then either hangs up or says nothing."""

    def __init__(self, hang_up: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hang_up = hang_up
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hang_up:
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_closed_silent_and_hung_up_ports_read_alike_in_the_delivery_log(
    clock: FakeClock,
) -> None:
    sender = WebhookSender(timeout=0.5, rules=AddressRules(parse_networks(["127.0.0.0/8"])))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the probe is closed
    hang_up, silent = _Silent(hang_up=True), _Silent(hang_up=False)
    try:
        attempts = [
            _send(sender, f"http://127.0.0.1:{port}/h", clock)
            for port in (closed, hang_up.port, silent.port)
        ]
        tls = _send(sender, f"https://127.0.0.1:{hang_up.port}/h", clock)
    finally:
        hang_up.close()
        silent.close()
    assert {*attempts, tls} == {Attempt(False, None, UNREACHABLE)}


# --- the setting ------------------------------------------------------------------------------


def test_the_allowed_networks_setting_reads_cidr_ranges() -> None:
    env = {"TOKENWARD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8, ::1, 10.1.0.0/16"}
    networks = Settings.from_env(env).webhook_allowed_networks
    assert [str(n) for n in networks] == ["127.0.0.0/8", "::1/128", "10.1.0.0/16"]
    assert Settings.from_env({}).webhook_allowed_networks == ()


@pytest.mark.parametrize("value", ["10.1.2.3/16", "not-a-network", "10.0.0.0/33"])
def test_a_bad_allowed_networks_value_stops_the_start_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="TOKENWARD_WEBHOOK_ALLOWED_NETWORKS"):
        Settings.from_env({"TOKENWARD_WEBHOOK_ALLOWED_NETWORKS": value})
