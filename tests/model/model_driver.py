"""The model test's hands: requests to the real API with a chosen credential, logging in,
and the checks of answers against the model (api_model)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx2
from api_model import Credential, Model, Session, Token, User
from starlette.testclient import TestClient

from tokenward.domain.model import Actor
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.store.sql import SqlStore
from tokenward.testing import FakeClock, make_user

__all__ = ["COVERED", "Api", "ApiFactory", "Driver", "at", "choose", "note"]

PASSWORD = "a-long-model-password"
# Alarms about dead secrets still presented are written by a background flusher, whenever it
# runs: not state changes the model makes, so not counted (their own tests count them).
NOT_COUNTED = frozenset({"token.dead_use", "token.reuse_detected"})

COVERED: Counter[str] = Counter()  # what the runs did, for TOKENWARD_MODEL_STATS


def note(what: str) -> None:
    COVERED[what] += 1


def choose(items: list[Any], pick: int) -> Any:
    return items[pick % len(items)]


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclasses.dataclass
class Api:
    """One example's API: stopped by :meth:`close` (pending last uses are written first)."""

    runtime: Runtime
    client: TestClient
    clock: FakeClock
    store: SqlStore

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.store.dispose()


ApiFactory = Callable[[], Api]


class Driver:
    """The real API (one fresh database per example) beside the model."""

    def _start(self, api: Api) -> None:
        self.api = api
        self.model = Model(api.clock.now())
        self.admin_key = self._bootstrap()
        for name in ("alice", "bob"):
            self._add_user(name)

    def _bootstrap(self) -> str:
        """An org admin and an admin key (admin, introspect), made outside the API; the audit
        log is read from after them."""
        runtime = self.api.runtime
        root = make_user(runtime, "root", is_admin=True)
        request = NewToken("model admin", ("admin", "introspect"), expires_in_days=365)
        key = runtime.tokens.create(root, request, by=Actor("test"), kind=TokenKind.ADMIN)
        self.seq = runtime.store.max_seq()
        return key.secret

    def _add_user(self, name: str) -> None:
        body = {"username": name, "password": PASSWORD}
        response = self._admin("POST", "/v1/admin/users", json=body)
        assert response.status_code == 201, response.text
        user = User(response.json()["id"], name, PASSWORD)
        self.model.users[user.id] = user
        self.model.expect("user.created", user.id)

    def _send(
        self, method: str, path: str, credential: Credential | None = None, **kwargs: Any
    ) -> httpx2.Response:
        headers: dict[str, str] = kwargs.pop("headers", {})
        if isinstance(credential, Token):
            headers["Authorization"] = f"Bearer {credential.secret}"
        elif isinstance(credential, Session):
            headers |= {"Cookie": credential.cookie, "X-CSRF-Token": credential.csrf}
        response = self.api.client.request(method, path, headers=headers, **kwargs)
        self.api.client.cookies.clear()  # every request says which credential it presents
        return response

    def _admin(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return self.api.client.request(method, path, headers=headers, **kwargs)

    def _user(self, pick: int) -> User:
        user: User = choose(list(self.model.users.values()), pick)
        return user

    def _token(self, pick: int) -> Token:
        token: Token = choose(list(self.model.tokens.values()), pick)
        return token

    def _caller(self, target: Token, stranger: bool) -> User:
        """The owner of ``target``, or (``stranger``) the other user."""
        users = self.model.users
        return next(u for u in users.values() if (u.id == target.owner) != stranger)

    def _acting(self, user: User, pick: int) -> Credential | None:
        """A credential of ``user`` to act with, logging in when it has none; ``None`` for a
        deactivated user (whose login is refused, and audited)."""
        found = self.model.credentials(user)
        if not found:
            self._log_in(user)
            found = self.model.credentials(user)
        if not found:
            return None
        credential: Credential = choose(found, pick)
        self.model.used(credential)  # authentication comes before anything the route does
        return credential

    def _log_in(self, user: User) -> None:
        body = {"username": user.name, "password": user.password}
        response = self._send("POST", "/v1/session", json=body)
        if not user.active:
            assert response.status_code == 401, response.text
            self.model.expect("session.login_failed", user.id)
            return
        assert response.status_code == 200, response.text
        ((name, value),) = response.cookies.items()
        expires = at(response.json()["expires_at"])
        assert expires == self.model.now + timedelta(hours=12)
        user.session = Session(f"{name}={value}", response.json()["csrf_token"], expires)
        self.model.expect("session.created", "*")

    def _check_refused(self, response: httpx2.Response, status: int) -> None:
        note(f"refused {status}")
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"

    def _check_list(
        self, items: list[dict[str, Any]], user: User, status: str | None = None
    ) -> None:
        """A user's tokens (of ``status``) as listed, newest first, equal the model's: ids,
        statuses, rotation, grace end; each listed once."""
        now, expected = self.model.now, self.model.of(user)
        if status is not None:
            expected = {id: t for id, t in expected.items() if t.status(now) == status}
        ids = [item["id"] for item in items]
        assert len(ids) == len(set(ids)) and set(ids) == expected.keys(), (ids, expected)
        created = [item["created_at"] for item in items]
        assert created == sorted(created, reverse=True)
        for item in items:
            token = expected[item["id"]]
            seen = (item["status"], item["rotated_from"], item["rotated_to"])
            assert seen == (token.status(now), token.rotated_from, token.rotated_to), item
            assert at(item["expires_at"]) == token.expires_at
            assert at(item["grace_until"]) == token.grace_until
            assert set(item["scopes"]) == token.scopes

    def _check_users(self) -> None:
        """``GET /v1/admin/users``: each user's status and number of active tokens."""
        response = self._admin("GET", "/v1/admin/users")
        assert response.status_code == 200, response.text
        listed = {item["id"]: item for item in response.json()["items"]}
        for user in self.model.users.values():
            active = [
                t for t in self.model.of(user).values() if t.status(self.model.now) == "active"
            ]
            status = "active" if user.active else "deactivated"
            assert (listed[user.id]["status"], listed[user.id]["active_tokens"]) == (
                status,
                len(active),
            )

    def _check_live(self, response: httpx2.Response, token: Token) -> None:
        """``GET /v1/self`` answered for ``token``, saying when its secret stops working."""
        assert response.status_code == 200, (token, response.text)
        assert response.json()["id"] == token.id
        assert at(response.headers["tokenward-token-expires"]) == token.usable_until()
        self.model.used(token)

    def _check_dead(self, response: httpx2.Response, *, oauth: bool = False) -> None:
        """401 ``invalid_token`` with its challenge: a problem, or on the OAuth endpoints the
        RFC 6749 JSON error."""
        if oauth:
            assert response.status_code == 401, response.text
            assert response.headers["content-type"] == "application/json"
        else:
            self._check_refused(response, 401)
        assert response.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    def _new_events(self) -> Counter[tuple[str, str]]:
        """The audit log's events since the last call, by type and subject (a session's id
        is not known to the model)."""
        response = self._admin("GET", f"/v1/admin/audit?after={self.seq}&limit=1000")
        assert response.status_code == 200, response.text
        events = response.json()["items"]
        for secret in (t.secret for t in self.model.tokens.values()):
            assert secret[4:] not in response.text, "a secret in the audit log"
        if events:
            self.seq = events[-1]["seq"]
        return Counter(
            (e["type"], "*" if e["type"] == "session.created" else e["subject"])
            for e in events
            if e["type"] not in NOT_COUNTED
        )
