"""A stateful model test of the HTTP API: hypothesis drives creates, lists, revocations,
rotations with grace, the clock, deactivation, leak reports, ``/v1/self``, introspection and
logging out everywhere, against a model kept here (api_model), on SQLite and PostgreSQL.

After every step: a token the model says is dead is never ``200`` (it gets ``401
invalid_token``), a live one always is; every user's token list equals the model (ids,
statuses, rotation links, grace ends); and the audit log holds exactly the events the step's
changes must write, one per change, of the right type and subject, and no secret.

A failure prints the shrunk sequence of steps; ``_settings`` says how to explore further.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from api_model import Token
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from model_driver import COVERED, Api, ApiFactory, Driver, at, choose, note

from tokenward.domain import tokens as token_format
from tokenward.domain.tokens import TokenKind

USER_SCOPES = ("tokens:read", "tokens:write", "read", "write")
FRESH = "(a fresh well-formed token that was never issued)"

statuses = st.sampled_from([None, "active", "expired", "revoked"])
picks = st.integers(min_value=0, max_value=10_000)
labels = st.from_regex(r"[A-Za-z0-9'._-]{1,30}", fullmatch=True)
# Every scope half the time: a token without tokens:write cannot make or rotate tokens.
scope_sets = st.one_of(st.just(frozenset(USER_SCOPES)), st.frozensets(st.sampled_from(USER_SCOPES)))
DAY = 86400
# Seconds: whole days are asked as ``expires_in_days``, the others as ``expires_at``.
lifetimes = st.one_of(st.integers(1, 5).map(lambda days: days * DAY), st.integers(1, 3 * DAY))
rarely = st.sampled_from([False, False, False, True])
strangers = rarely
graces = st.sampled_from([0, 0, 1, 60, 3600, 2 * 86400])
steps = st.sampled_from([1, 59, 61, 3600, 12 * 3600, 86400, 2 * 86400])
junk = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40),
    st.from_regex(r"tw[ua]_[0-9A-Za-z]{49}", fullmatch=True),  # shaped, bad checksum
    st.just(FRESH),
)


class ApiMachine(Driver, RuleBasedStateMachine):
    """The real API (one fresh database per example) beside the model."""

    def __init__(self) -> None:
        super().__init__()
        self._start(self.fresh_api())
        note("examples")
        self.seen_dead: set[str] = set()  # tokens found dead: dead for good, probed once

    def fresh_api(self) -> Api:
        """A new API over an empty database: the test's subclass says on which backend."""
        raise NotImplementedError

    def teardown(self) -> None:
        self.api.close()

    # -- rules ------------------------------------------------------------------------------

    @initialize(lifetime=lifetimes)
    def first_tokens(self, lifetime: int) -> None:
        """Each user starts with a token holding every scope (made through a session)."""
        for who in range(len(self.model.users)):
            self.create_token(who, 0, "first", lifetime, frozenset(USER_SCOPES))

    @rule(who=picks, how=picks, label=labels, lifetime=lifetimes, scopes=scope_sets)
    def create_token(
        self, who: int, how: int, label: str, lifetime: int, scopes: frozenset[str]
    ) -> None:
        user = self._user(who)
        credential = self._acting(user, how)
        if credential is None:
            return
        expires = self.model.now + timedelta(seconds=lifetime)
        body: dict[str, Any] = {"label": label, "scopes": sorted(scopes)}
        if lifetime % DAY:
            body["expires_at"] = expires.isoformat()
        else:
            body["expires_in_days"] = lifetime // DAY
        response = self._send("POST", "/v1/tokens", credential, json=body)
        if not credential.has_scope("tokens:write"):
            return self._check_refused(response, 403)
        too_long = lifetime > self.model.max_days * DAY
        if too_long or not all(credential.has_scope(scope) for scope in scopes):
            return self._check_refused(response, 422)
        assert response.status_code == 201, response.text
        made = response.json()
        assert (made["label"], frozenset(made["scopes"])) == (label, scopes)
        token = Token(made["id"], made["token"], user.id, scopes, self.model.now, expires)
        self.model.created(token)

    @rule(who=picks, how=picks, status=statuses, limit=st.sampled_from([1, 2, 200]))
    def list_own_tokens(self, who: int, how: int, status: str | None, limit: int) -> None:
        """``GET /v1/tokens``, filtered by status or not, page after page."""
        user = self._user(who)
        credential = self._acting(user, how)
        if credential is None:
            return
        query: dict[str, str | int] = {"limit": limit} | ({"status": status} if status else {})
        response = self._send("GET", "/v1/tokens", credential, params=query)
        if not credential.has_scope("tokens:read"):
            return self._check_refused(response, 403)
        items: list[dict[str, Any]] = []
        while True:
            assert response.status_code == 200, response.text
            items += response.json()["items"]
            cursor = response.json()["next_cursor"]
            if cursor is None:
                break
            page = query | {"cursor": cursor}
            response = self._send("GET", "/v1/tokens", credential, params=page)
        self._check_list(items, user, status)

    @precondition(lambda self: bool(self.model.tokens))
    @rule(how=picks, which=picks, stranger=strangers)
    def revoke(self, how: int, which: int, stranger: bool) -> None:
        target = self._token(which)
        user = self._caller(target, stranger)
        credential = self._acting(user, how)
        if credential is None:
            return
        response = self._send("DELETE", f"/v1/tokens/{target.id}", credential)
        if not credential.has_scope("tokens:write"):
            return self._check_refused(response, 403)
        if target.owner != user.id:
            return self._check_refused(response, 404)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "revoked"
        self.model.revoke(target)

    @precondition(lambda self: bool(self.model.tokens))
    @rule(which=picks, as_admin=st.booleans())
    def revoke_otherwise(self, which: int, as_admin: bool) -> None:
        """Revoke as an admin (``DELETE /v1/admin/tokens/{id}``) or as whoever holds the
        secret (RFC 7009 ``POST /v1/revoke``, no credential needed)."""
        token = self._token(which)
        if as_admin:
            response = self._admin("DELETE", f"/v1/admin/tokens/{token.id}")
            assert response.json()["status"] == "revoked", response.text
        else:
            response = self._send("POST", "/v1/revoke", data={"token": token.secret})
        assert response.status_code == 200, response.text
        self.model.revoke(token)

    @precondition(lambda self: bool(self.model.tokens))
    @rule(how=picks, which=picks, stranger=strangers, any_token=rarely, grace=graces)
    def rotate(self, how: int, which: int, stranger: bool, any_token: bool, grace: int) -> None:
        """Rotate a live token (or now and then any token) of its owner or a stranger."""
        live = [t for t in self.model.tokens.values() if self.model.live(t)]
        old: Token = choose(live, which) if live and not any_token else self._token(which)
        user = self._caller(old, stranger)
        credential = self._acting(user, how)
        if credential is None:
            return
        body = {"grace_seconds": grace}
        response = self._send("POST", f"/v1/tokens/{old.id}/rotate", credential, json=body)
        if not credential.has_scope("tokens:write"):
            return self._check_refused(response, 403)
        if old.owner != user.id:
            return self._check_refused(response, 404)
        refusal = self.model.rotation_refusal(credential, old)
        if refusal is not None:
            return self._check_refused(response, refusal)
        assert response.status_code == 201, response.text
        made = response.json()
        new = self.model.rotated(old, made["id"], made["token"], grace)
        assert (made["rotated_from"], made["grace_seconds"]) == (old.id, grace)
        assert at(made["expires_at"]) == new.expires_at

    # The same rules again, so that tokens are made and rotated about as often as everything
    # else kills them (hypothesis picks among rules evenly).
    @rule(who=picks, how=picks, label=labels, lifetime=lifetimes, scopes=scope_sets)
    def create_another_token(
        self, who: int, how: int, label: str, lifetime: int, scopes: frozenset[str]
    ) -> None:
        self.create_token(who, how, label, lifetime, scopes)

    @precondition(lambda self: bool(self.model.tokens))
    @rule(how=picks, which=picks, grace=graces)
    def rotate_again(self, how: int, which: int, grace: int) -> None:
        self.rotate(how, which, stranger=False, any_token=False, grace=grace)

    @precondition(lambda self: bool(self.model.tokens))
    @rule(which=picks)
    def use_self(self, which: int) -> None:
        """``GET /v1/self`` with any token, a successor's first use included."""
        token = self._token(which)
        response = self._send("GET", "/v1/self", token)
        if not self.model.live(token):
            return self._check_dead(response)
        self._check_live(response, token)

    @precondition(lambda self: bool(self.model.tokens))
    @rule(which=picks)
    def introspect(self, which: int) -> None:
        token = self._token(which)
        response = self._admin("POST", "/v1/introspect", data={"token": token.secret})
        assert response.status_code == 200, response.text
        if not self.model.live(token):
            assert response.json() == {"active": False}
            return
        assert response.json()["active"] is True
        assert response.json()["tokenward_id"] == token.id
        assert response.json()["exp"] == int(token.usable_until().timestamp())
        self.model.used(token)

    @rule(max_days=st.sampled_from([1, 2, 365]))
    def set_policy(self, max_days: int) -> None:
        """An admin changes the user tokens' maximum lifetime: creates past it are refused,
        rotations shorten the successor to it."""
        user_token = {"default_days": 1, "max_days": max_days, "allow_no_expiry": False}
        document = {
            "user_token": user_token,
            "admin_key": {"default_days": 7, "max_days": 365},
            "reminder_days": [30, 7, 1],
        }
        response = self._admin("PUT", "/v1/admin/policy", json=document)
        assert response.status_code == 200, response.text
        assert response.json()["user_token"] == user_token
        self.model.max_days = max_days
        self.model.expect("policy.updated", "policy")

    @rule(seconds=steps)
    def advance_clock(self, seconds: int) -> None:
        self.model.now = self.api.clock.advance(seconds=seconds)

    @precondition(lambda self: bool(self.model.deadlines()))
    @rule(which=picks, offset=st.sampled_from([-1, 0, 1]))
    def advance_to_a_deadline(self, which: int, offset: int) -> None:
        """To just before, at or just after an expiry, a grace end or a session's end."""
        moment = choose(self.model.deadlines(), which) + timedelta(seconds=offset)
        if moment > self.model.now:
            self.api.clock.current = self.model.now = moment

    @precondition(lambda self: len(self.model.tokens) >= 3)
    @rule(who=picks)
    def deactivate(self, who: int) -> None:
        user = self._user(who)
        response = self._admin("POST", f"/v1/admin/users/{user.id}/deactivate")
        assert response.status_code == 200, response.text
        assert response.json()["tokens_revoked"] == self.model.deactivate(user)
        self._check_users()

    @rule(who=picks)
    def reactivate(self, who: int) -> None:
        user = self._user(who)
        response = self._admin("POST", f"/v1/admin/users/{user.id}/reactivate")
        assert response.status_code == 200, response.text
        self.model.reactivate(user)
        self.seen_dead.clear()
        self._check_users()

    @precondition(lambda self: len(self.model.tokens) >= 3)
    @rule(which=picks, other=picks, noise=junk, where=st.sampled_from(["list", "source", "glued"]))
    def report_leak(self, which: int, other: int, noise: str, where: str) -> None:
        """A leak report, anonymous, naming a token in the list or inside ``source`` (alone,
        or glued to another token as in a dump without separators), plus a string that is no
        token of ours."""
        token, second = self._token(which), self._token(other)
        noise = token_format.generate(TokenKind.USER) if noise == FRESH else noise
        listed = [token.secret, noise] if where == "list" else [noise]
        source = {
            "list": "a public gist",
            "source": f"a gist: token={token.secret}",
            "glued": f"an env dump: {second.secret}{token.secret}",
        }[where]
        response = self._send("POST", "/v1/leaks", json={"tokens": listed, "source": source})
        assert response.status_code == 202, response.text
        assert response.json() == {"received": len(listed)}
        self.model.leaked([token.secret, second.secret] if where == "glued" else [token.secret])

    @precondition(lambda self: len(self.model.tokens) >= 3)
    @rule(who=picks, how=picks, revoke_tokens=st.booleans())
    def log_out_everywhere(self, who: int, how: int, revoke_tokens: bool) -> None:
        user = self._user(who)
        credential = self._acting(user, how)
        if credential is None:
            return
        body = {"revoke_tokens": revoke_tokens}
        response = self._send("POST", "/v1/session/logout-all", credential, json=body)
        if not credential.has_scope("tokens:write"):
            return self._check_refused(response, 403)
        assert response.status_code == 200, response.text
        revoked = self.model.logged_out_everywhere(user, revoke_tokens)
        assert response.json()["tokens_revoked"] == revoked

    @precondition(lambda self: any(not self.model.live(t) for t in self.model.tokens.values()))
    @rule(which=picks)
    def dead_token_everywhere(self, which: int) -> None:
        """A dead token's secret is refused on every endpoint, anonymous ones included."""
        dead = [t for t in self.model.tokens.values() if not self.model.live(t)]
        token: Token = choose(dead, which)
        for method, path, body in (
            ("GET", "/v1/self", None),
            ("GET", "/v1/policy", None),
            ("GET", "/v1/tokens", None),
            ("POST", "/v1/tokens", {"label": "x"}),
            ("DELETE", f"/v1/tokens/{token.id}", None),
            ("POST", f"/v1/tokens/{token.id}/rotate", {}),
            ("POST", "/v1/session/logout-all", {}),
            ("POST", "/v1/leaks", {"tokens": [token.secret], "source": "x"}),
            ("GET", "/v1/admin/users", None),
        ):
            self._check_dead(self._send(method, path, token, json=body))
        for oauth_path in ("/v1/introspect", "/v1/revoke"):
            response = self._send("POST", oauth_path, token, data={"token": "x"})
            self._check_dead(response, oauth=True)

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def only_live_tokens_work(self) -> None:
        """Every token answers as the model says. A successor's first use is left to the
        rules (it starts a grace); a token found dead is probed again only after a
        reactivation (nothing else could bring it back) and by the rules."""
        for token in list(self.model.tokens.values()):
            if self.model.probe_changes_state(token) or token.id in self.seen_dead:
                continue
            response = self._send("GET", "/v1/self", token)
            if self.model.live(token):
                self._check_live(response, token)
            else:
                self._check_dead(response)
                self.seen_dead.add(token.id)

    @invariant()
    def lists_equal_the_model(self) -> None:
        """The org's user tokens (one admin request), each user's equal to the model's."""
        response = self._admin("GET", "/v1/admin/tokens?kind=user_token&limit=200")
        assert response.status_code == 200, response.text
        assert response.json()["next_cursor"] is None
        items = response.json()["items"]
        for user in self.model.users.values():
            self._check_list([item for item in items if item["user_id"] == user.id], user)

    @invariant()
    def one_event_per_change(self) -> None:
        note("steps")
        seen = self._new_events()
        assert seen == self.model.take_expected()
        for type, _ in seen.elements():
            note(type)


def _settings() -> settings:
    """The same examples every run (derandomized, no example database), about 30 s a backend
    on two cores. To explore further by hand: ``TOKENWARD_MODEL_EXAMPLES=500`` for more,
    ``TOKENWARD_MODEL_RANDOM=1`` for new ones each run, ``TOKENWARD_MODEL_STATS=<file>`` to
    append what the examples covered (events by type, refusals by status)."""
    return settings(
        max_examples=int(os.environ.get("TOKENWARD_MODEL_EXAMPLES", "30")),
        stateful_step_count=25,
        deadline=None,
        derandomize=not os.environ.get("TOKENWARD_MODEL_RANDOM"),
        database=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def test_the_api_behaves_as_its_model(fresh_api: ApiFactory) -> None:
    """The API agrees with the model after every step of every example, on this backend."""

    class OnThisBackend(ApiMachine):
        def fresh_api(self) -> Api:
            return fresh_api()

    COVERED.clear()
    run_state_machine_as_test(OnThisBackend, settings=_settings())
    if stats := os.environ.get("TOKENWARD_MODEL_STATS"):
        with open(stats, "a") as out:
            out.write(f"{sorted(COVERED.items())}\n")
