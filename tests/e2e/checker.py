"""The checker: keeps verifying tokens on every node and proves that no node accepted a revoked
token later than the bound after the revocation committed.

Times are ``time.monotonic()`` of this process, which on Linux is the same clock as the
servers'. Every judgement leans towards the server, so a failure is a certain violation:

- an answer counts from ``sent``, taken before the request is written: the node decided later;
- a revocation counts from ``returned``, taken once its response arrived: it committed earlier.

So no scheduling slack is added: "200 sent after ``returned + bound``" cannot be explained by
the client's or the scheduler's delays, only by a node serving a revoked token.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType

__all__ = ["Answer", "Checker", "Revocation", "connector"]

Connect = Callable[[], http.client.HTTPConnection]
NO_ANSWER = 0  # the status recorded when a node gave no answer (refused, reset, timed out)
_TIMEOUT = 2.0  # seconds a checking request may take


def connector(port: int) -> Connect:
    """Connections to the node at ``127.0.0.1:port``."""
    return lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=_TIMEOUT)


@dataclasses.dataclass(frozen=True)
class Answer:
    node: str
    token: str  # the token's name in the test, never its secret
    sent: float  # before the request was written
    received: float  # once the status was read, or the connection failed
    status: int  # NO_ANSWER when there was none


@dataclasses.dataclass(frozen=True)
class Revocation:
    token: str
    started: float  # before the revoking request was written
    returned: float  # once its response had arrived (the commit happened before)
    status: int  # NO_ANSWER when there was none (the revoking node died, say)
    body: dict[str, object]


class Checker:
    """Threads, one a node, each verifying every watched token in turn (``GET /v1/self``) and
    recording each answer. Accepts are 200; 503 (fail closed) and no answer are counted apart;
    a 200 for a revoked token after the bound is never allowed."""

    def __init__(self, nodes: Mapping[str, Connect], bound: float, pause: float = 0.002) -> None:
        self.nodes = dict(nodes)
        self.bound = bound
        self.pause = pause  # between two checks of one node: leaves CPU for the servers
        self._tokens: dict[str, str] = {}
        self._answers: list[Answer] = []
        self._revocations: dict[str, Revocation] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._check, args=(node,), name=f"checker-{node}", daemon=True)
            for node in self.nodes
        ]

    # -- running ---------------------------------------------------------------------------

    def watch(self, name: str, secret: str) -> None:
        with self._lock:
            self._tokens[name] = secret

    def start(self) -> Checker:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=_TIMEOUT + 3)

    def __enter__(self) -> Checker:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _check(self, node: str) -> None:
        conn: http.client.HTTPConnection | None = None
        try:
            while not self._stop.is_set():
                with self._lock:
                    tokens = list(self._tokens.items())
                for name, secret in tokens:
                    if self._stop.is_set():
                        break
                    if conn is None:
                        conn = self.nodes[node]()
                    (sent, received, status), conn = _verify(conn, secret)
                    with self._lock:
                        self._answers.append(Answer(node, name, sent, received, status))
                    self._stop.wait(self.pause if status != NO_ANSWER else 0.02)
                if not tokens:
                    self._stop.wait(0.01)
        finally:
            if conn is not None:
                conn.close()

    # -- revocations -----------------------------------------------------------------------

    def revoke(self, port: int, name: str, token_id: str, admin: str) -> Revocation:
        """Revoke a watched token through the node at ``port``, timing the call."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        started = time.monotonic()
        try:
            conn.request("DELETE", f"/v1/tokens/{token_id}", headers=_bearer(admin))
            response = conn.getresponse()
            status, text = response.status, response.read().decode("utf-8")
        except OSError:
            status, text = NO_ANSWER, "{}"
        finally:
            conn.close()
        returned = time.monotonic()
        body = json.loads(text) if text.startswith("{") else {"text": text}
        revocation = Revocation(name, started, returned, status, body)
        if status == 200:  # unanswered, it may or may not have committed: the test decides
            self.note(revocation)
        return revocation

    def note(self, revocation: Revocation) -> None:
        """Record a revocation made elsewhere; the bound runs from its ``returned``."""
        with self._lock:
            self._revocations[revocation.token] = revocation

    # -- what was seen ---------------------------------------------------------------------

    def answers(self, token: str | None = None, node: str | None = None) -> list[Answer]:
        with self._lock:
            found = list(self._answers)
        return [
            a
            for a in found
            if (token is None or a.token == token) and (node is None or a.node == node)
        ]

    def counts(self, token: str | None = None) -> collections.Counter[int]:
        """How many answers of each status (``NO_ANSWER`` included)."""
        return collections.Counter(a.status for a in self.answers(token))

    def wait_checked(
        self,
        tokens: Iterable[str],
        after: float,
        nodes: Iterable[str] | None = None,
        status: int | None = None,
        within: float = 10.0,
    ) -> None:
        """Wait until every node has answered every token with a request sent after ``after``
        (with ``status``, if given); fail after ``within`` seconds."""
        wanted = {(n, t) for n in (nodes or self.nodes) for t in tokens}
        deadline = time.monotonic() + within
        while True:
            seen = {
                (a.node, a.token)
                for a in self.answers()
                if a.sent > after and (status is None or a.status == status)
            }
            missing = wanted - seen
            if not missing:
                return
            assert time.monotonic() < deadline, f"never checked (node, token): {sorted(missing)}"
            time.sleep(0.01)

    def settle(self, nodes: Iterable[str] | None = None, within: float = 10.0) -> None:
        """Wait until the bound of every noted revocation has passed and every node has
        checked its token since: the checks that can prove a violation have all been made."""
        with self._lock:
            revocations = list(self._revocations.values())
        for revocation in revocations:
            deadline = revocation.returned + self.bound
            time.sleep(max(0.0, deadline - time.monotonic()))
            self.wait_checked([revocation.token], deadline, nodes, within=within)

    # -- the judgement ---------------------------------------------------------------------

    def assert_no_accept_after(
        self, token: str, deadline: float, answered_before: float = float("inf")
    ) -> None:
        """No node accepted ``token`` with a request sent after ``deadline`` (among the answers
        that arrived before ``answered_before``, so were decided before then)."""
        late = [
            a
            for a in self.answers(token)
            if a.status == 200 and a.sent > deadline and a.received < answered_before
        ]
        assert not late, (
            f"{len(late)} accept(s) of {token!r} after the bound; first: {late[0].node}, sent"
            f" {late[0].sent - deadline:.4f}s past it, answered {late[0].received - deadline:.4f}s"
            f" past it (deadline {deadline:.4f})"
        )

    def assert_revocations_honoured(self) -> None:
        """For every noted revocation: no accept after it returned plus the bound."""
        with self._lock:
            revocations = list(self._revocations.values())
        for revocation in revocations:
            self.assert_no_accept_after(revocation.token, revocation.returned + self.bound)


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _verify(
    conn: http.client.HTTPConnection, secret: str
) -> tuple[tuple[float, float, int], http.client.HTTPConnection | None]:
    """One check on a kept-alive connection; a broken connection is closed and dropped."""
    sent = time.monotonic()
    try:
        conn.request("GET", "/v1/self", headers=_bearer(secret))
        response = conn.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        with contextlib.suppress(OSError):
            conn.close()
        return (sent, time.monotonic(), NO_ANSWER), None
    keep = None if response.will_close else conn
    if keep is None:
        conn.close()
    return (sent, time.monotonic(), status), keep
