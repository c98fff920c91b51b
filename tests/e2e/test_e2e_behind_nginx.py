"""One node on SQLite behind the real nginx of ``deploy/nginx/tokenward.conf``: TLS ends at
nginx, the node trusts nginx's address only, and the limits keep the honest in.

Every "person" is a loopback address of its own (127.0.0.x): nginx connects to the node from
127.0.0.1, the one trusted proxy, so the node must find each person behind it.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from front import Front, Reply, exchange, front, rss_kib
from server import ADMIN_PASSWORD, Server, clean_env

LIMIT = 3  # failures a minute, for tokens per address and logins per (name, address)
BOB_PASSWORD = "bob's long passphrase"
UNKNOWN = "twu_" + "A" * 49  # the shape of a token, stored nowhere
JSON = {"Content-Type": "application/json"}
DEADLINE = 2  # seconds: the node's header deadline and keep-alive timeout
FIFTY_MB = 50 * 1024 * 1024


@dataclasses.dataclass
class Stack:
    node: Server
    gate: Front
    bob: str  # bob's live token
    revoked: str  # bob's revoked token

    def login(self, name: str, password: str, source: str, **headers: str) -> Reply:
        body = json.dumps({"username": name, "password": password})
        return self.gate.request("POST", "/v1/session", {**JSON, **headers}, body, source)

    def self_(self, secret: str, source: str) -> Reply:
        return self.gate.request("GET", "/v1/self", _bearer(secret), source=source)

    def audit(self, type: str) -> list[dict[str, object]]:
        """The audit log's events of ``type`` (``tokenward audit --json``)."""
        lines = self.node.cli("audit", "--type", type, "--limit", "1000", "--json")
        return [json.loads(line) for line in lines.splitlines() if line.strip()]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("behind_nginx")
    env = clean_env(
        {
            "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "TOKENWARD_TRUSTED_PROXIES": "127.0.0.1",
            "TOKENWARD_FAILED_AUTH_PER_MINUTE": str(LIMIT),
            "TOKENWARD_FAILED_LOGINS_PER_MINUTE": str(LIMIT),
            "TOKENWARD_HEADER_TIMEOUT_SECONDS": str(DEADLINE),
            "TOKENWARD_KEEP_ALIVE_SECONDS": str(DEADLINE),
        }
    )
    node = Server.start(folder, env, "node")
    try:
        node.wait_ready()
        with front(folder / "front", [node.port]) as gate:
            yield _populated(node, gate)
    finally:
        node.stop()


def _populated(node: Server, gate: Front) -> Stack:
    """bob, a live token of his and a revoked one, made through the API (no CLI: each run of
    it starts a Python process)."""
    admin = _session(node, "admin", ADMIN_PASSWORD)
    body = json.dumps({"username": "bob", "password": BOB_PASSWORD})
    assert node.request("POST", "/v1/admin/users", admin, body).status == 201
    bob = _session(node, "bob", BOB_PASSWORD)
    live, revoked = (_new_token(node, bob, label) for label in ("live", "revoked"))
    assert node.request("DELETE", f"/v1/tokens/{revoked[0]}", bob).status == 200
    return Stack(node, gate, live[1], revoked[1])


def _session(node: Server, name: str, password: str) -> dict[str, str]:
    """The headers of a web session of ``name`` (straight to the node, plain HTTP)."""
    reply = node.request(
        "POST", "/v1/session", JSON, json.dumps({"username": name, "password": password})
    )
    assert reply.status == 200, reply.text
    cookie = reply.headers["set-cookie"].split(";")[0]
    return {**JSON, "Cookie": cookie, "X-CSRF-Token": reply.json()["csrf_token"]}


def _new_token(node: Server, session: dict[str, str], label: str) -> tuple[str, str]:
    reply = node.request("POST", "/v1/tokens", session, json.dumps({"label": label}))
    assert reply.status == 201, reply.text
    return reply.json()["id"], reply.json()["token"]


# -- TLS and trusted proxies ----------------------------------------------------------------------


def test_tls_ends_at_nginx_and_the_node_marks_its_cookie_secure_and_sends_hsts(
    stack: Stack,
) -> None:
    plain = stack.gate.nginx.request("GET", "/healthz")
    assert plain[0] == 301 and plain[1]["location"].startswith("https://")
    reply = stack.login("bob", BOB_PASSWORD, "127.0.0.20")
    assert reply.status == 200, reply.body
    assert reply.headers["strict-transport-security"] == "max-age=31536000"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith("__Host-tw_session=") and "Secure" in cookie
    # Straight to the node from a client that is not a trusted proxy: its claim of HTTPS is
    # ignored (no HSTS, no Secure cookie).
    forged = {**JSON, "X-Forwarded-Proto": "https"}
    body = json.dumps({"username": "bob", "password": BOB_PASSWORD})
    direct = _direct(stack.node, "POST", "/v1/session", "127.0.0.23", forged, body)
    assert direct.status == 200
    assert "strict-transport-security" not in direct.headers
    assert direct.headers["set-cookie"].startswith("tw_session=")
    assert "Secure" not in direct.headers["set-cookie"]


def test_a_spoofed_forwarded_for_is_ignored_and_the_audit_shows_the_real_peer(
    stack: Stack,
) -> None:
    spoof = {"X-Forwarded-For": "203.0.113.9"}
    assert stack.login("nobody-a", "wrong", "127.0.0.21", **spoof).status == 401
    # Straight to the node from an address that is not a trusted proxy: ignored as well.
    body = json.dumps({"username": "nobody-b", "password": "wrong"})
    assert (
        _direct(stack.node, "POST", "/v1/session", "127.0.0.22", {**JSON, **spoof}, body).status
        == 401
    )
    ips = [event["ip"] for event in stack.audit("session.login_failed")]
    print(f"[behind nginx] audit of spoofed logins: {ips}")
    assert "203.0.113.9" not in ips
    assert {"127.0.0.21", "127.0.0.22"} <= set(ips)


def _direct(
    node: Server, method: str, path: str, source: str, headers: dict[str, str], body: str
) -> Reply:
    """One request straight to the node (not through nginx) from loopback address ``source``."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", node.port, timeout=10, source_address=(source, 0)
    )
    try:
        return exchange(conn, method, path, headers, body)
    finally:
        conn.close()


# -- limits that never lock out the honest --------------------------------------------------------


def test_a_flood_of_unknown_tokens_leaves_logins_and_dead_token_answers_untouched(
    stack: Stack,
) -> None:
    """The scanner at 127.0.0.30 is refused; everyone else behind the same nginx (and the
    scanner's own correct login and dead token) gets the answer they always would."""
    answers = [stack.self_(UNKNOWN, "127.0.0.30").status for _ in range(LIMIT * 3)]
    assert answers == [401] * LIMIT + [429] * (LIMIT * 2)
    assert stack.login("bob", BOB_PASSWORD, "127.0.0.31").status == 200
    assert stack.self_(stack.revoked, "127.0.0.31").status == 401
    assert stack.self_(stack.bob, "127.0.0.31").status == 200
    # The scanner's address too: its dead token is told it is dead, its password logs in.
    dead = stack.self_(stack.revoked, "127.0.0.30")
    assert dead.status == 401 and "revoked" in dead.body.decode()
    assert stack.login("bob", BOB_PASSWORD, "127.0.0.30").status == 200
    print(f"[behind nginx] unknown-token flood from one client: {answers.count(429)} × 429")


def test_an_account_lockout_attempt_fails_and_the_owner_logs_in(stack: Stack) -> None:
    """Wrong passwords for bob from three addresses, each with a fresh X-Forwarded-For: each
    attacking address is refused past its limit, and bob logs in from his own (slowed)."""
    statuses: list[int] = []
    for n in range(3):
        source = f"127.0.0.{40 + n}"
        for i in range(LIMIT + 1):
            forged = {"X-Forwarded-For": f"198.51.100.{n * 10 + i}"}
            statuses.append(stack.login("bob", "not bob's password", source, **forged).status)
    assert statuses.count(429) == 3 and set(statuses) == {401, 429}
    started = time.monotonic()
    reply = stack.login("bob", BOB_PASSWORD, "127.0.0.60")
    waited = time.monotonic() - started
    assert reply.status == 200, reply.body
    assert stack.login("admin", ADMIN_PASSWORD, "127.0.0.61").status == 200
    print(
        f"[behind nginx] lockout attempt: {statuses.count(401)} × 401, "
        f"{statuses.count(429)} × 429; bob logged in after {waited:.2f}s (slowed down)"
    )


def test_an_oversized_body_is_refused_by_nginx_with_a_problem(stack: Stack) -> None:
    big = json.dumps({"username": "bob", "password": "x" * 100_000})
    reply = stack.gate.request("POST", "/v1/session", JSON, big, "127.0.0.70")
    assert reply.status == 413
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"] == "/problems/body-too-large"


def test_metrics_are_not_published_through_the_gateway(stack: Stack) -> None:
    assert stack.gate.request("GET", "/metrics").status == 404


# -- bodies and slow clients, straight to the node ------------------------------------------------


def test_four_concurrent_50_mb_bodies_get_413_and_the_node_stays_small_and_healthy(
    stack: Stack,
) -> None:
    """Two declare their length, two stream chunks: all four are refused at 64 KiB, the node's
    resident memory barely moves, and /healthz answers all along."""
    node = stack.node
    before = rss_kib(node.process.pid)
    done = threading.Event()
    peaks: list[int] = []
    health: list[int] = []
    pushed: list[tuple[int, int]] = []
    watchers = [
        threading.Thread(target=_sample_rss, args=(node.process.pid, peaks, done)),
        threading.Thread(target=_poll_health, args=(node, health, done)),
    ]
    pushers = [
        threading.Thread(target=lambda c=chunked: pushed.append(_push_50_mb(node.port, c)))
        for chunked in (False, True, False, True)
    ]
    for thread in [*watchers, *pushers]:
        thread.start()
    for thread in pushers:
        thread.join(60)
    time.sleep(0.3)  # one more look at memory and health after the flood
    done.set()
    for thread in watchers:
        thread.join(10)
    grown = max(peaks) - before
    print(
        f"[behind nginx] 4 × 50 MB bodies: statuses {[status for status, _ in pushed]}, "
        f"sent before refusal {[sent // 1024 for _, sent in pushed]} KiB; "
        f"VmRSS {before} KiB before, peak {max(peaks)} KiB (+{grown} KiB); "
        f"/healthz {health.count(200)}/{len(health)} × 200"
    )
    assert [status for status, _ in pushed] == [413] * 4
    assert grown < 30 * 1024
    assert health and set(health) == {200}


def _push_50_mb(port: int, chunked: bool) -> tuple[int, int]:
    """POST a 50 MB body (declared, or chunked) until the node answers; its status and the
    bytes sent by then."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {FIFTY_MB}"
    head = f"POST /v1/session HTTP/1.1\r\nHost: node\r\n{framing}\r\n\r\n"
    piece = b"x" * 65536
    framed = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        while sent < FIFTY_MB and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(framed)
            except OSError:
                break
            sent += len(piece)
        status = int(sock.recv(4096).split(b" ", 2)[1])
    return status, sent


def _sample_rss(pid: int, peaks: list[int], done: threading.Event) -> None:
    while not done.is_set():
        peaks.append(rss_kib(pid))
        time.sleep(0.02)


def _poll_health(node: Server, health: list[int], done: threading.Event) -> None:
    while not done.is_set():
        health.append(node.request("GET", "/healthz").status)
        time.sleep(0.05)


def test_slow_and_idle_connections_are_closed_after_the_deadline(stack: Stack) -> None:
    """One connection sends a header line every half second and never finishes; one sends
    nothing; one idles after a request. The node closes each within the deadline."""
    port = stack.node.port
    slow, idle, kept = (socket.create_connection(("127.0.0.1", port)) for _ in range(3))
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n")
    slow.sendall(b"GET /healthz HTTP/1.1\r\n")
    started = time.monotonic()
    closed: dict[str, float] = {}
    while len(closed) < 3 and time.monotonic() - started < DEADLINE + 5:
        slow.sendall(b"X-Slow: 1\r\n") if "slow" not in closed else None
        for name, sock in (("slow", slow), ("idle", idle), ("kept", kept)):
            if name not in closed and _closed(sock):
                closed[name] = time.monotonic() - started
        time.sleep(0.5)
    for sock in (slow, idle, kept):
        sock.close()
    print(f"[behind nginx] closed after (s): { {k: round(v, 1) for k, v in closed.items()} }")
    assert set(closed) == {"slow", "idle", "kept"}
    assert max(closed.values()) < DEADLINE + 2


def _closed(sock: socket.socket) -> bool:
    """Whether the peer closed ``sock`` (reading whatever answer came first)."""
    while select.select([sock], [], [], 0)[0]:
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            return True
    return False
