"""The admin pages: only for admins (everyone else gets a 403 page, audited), users, every
token, admin keys, the audit log and the policy."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient
from web_support import AGENT, csrf_of, event_types, field_errors, log_in, snapshot

from tokenward.domain.model import TokenStatus, UserRecord, UserStatus
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken, NewToken
from tokenward.store.base import EventQuery
from tokenward.testing import TEST_ACTOR, make_token, make_user


def admin_key(runtime: Runtime, owner: UserRecord, label: str) -> CreatedToken:
    request = NewToken(label=label, scopes=("admin",))
    return runtime.tokens.create(owner, request, by=TEST_ACTOR, kind=TokenKind.ADMIN)


ADMIN_PAGES = [
    "/ui/admin/users",
    "/ui/admin/tokens",
    "/ui/admin/keys",
    "/ui/admin/audit",
    "/ui/admin/policy",
    "/ui/admin/users/{user}/deactivate",
    "/ui/admin/tokens/{token}/revoke",
    "/ui/admin/keys/{token}/revoke",
]
ADMIN_POSTS = [
    "/ui/admin/users/create",
    "/ui/admin/users/{user}/deactivate",
    "/ui/admin/users/{user}/reactivate",
    "/ui/admin/tokens/{token}/revoke",
    "/ui/admin/keys/create",
    "/ui/admin/keys/{token}/revoke",
    "/ui/admin/policy",
]


def test_a_non_admin_gets_a_403_page_on_every_admin_page_and_post(
    ui: TestClient, runtime: Runtime, alice: UserRecord, root: UserRecord
) -> None:
    key = admin_key(runtime, root, "root key")
    csrf = log_in(ui, "alice")
    assert "/ui/admin/" not in ui.get("/ui/tokens").text  # no admin links in the navigation
    before = snapshot(runtime)["tokens"]
    for path in ADMIN_PAGES + ADMIN_POSTS:
        url = path.format(user=root.id, token=key.record.id)
        data = {"csrf_token": csrf, "username": "mallory", "password": "x" * 20, "label": "k"}
        answer = ui.get(url) if path in ADMIN_PAGES else ui.post(url, data=data)
        assert answer.status_code == 403, url
        assert "Admins only" in answer.text
        assert "root key" not in answer.text
        assert "mallory" not in answer.text
    assert snapshot(runtime)["tokens"] == before
    assert runtime.accounts.by_id(root.id).status is UserStatus.ACTIVE
    denied = [e for e in runtime.audit.query(EventQuery(limit=1000)) if e.type == "admin.denied"]
    assert len(denied) == len(ADMIN_PAGES) + len(ADMIN_POSTS)
    assert all(e.actor.startswith("ses_") and e.user_agent == AGENT for e in denied)
    assert "/ui/admin/users/{user_id}/deactivate" in {e.subject for e in denied}


def test_the_admin_navigation_shows_every_admin_page(ui: TestClient, root: UserRecord) -> None:
    log_in(ui, "root")
    page = ui.get("/ui/tokens").text
    for path in ADMIN_PAGES[:5]:
        assert f'href="{path}"' in page
        assert ui.get(path).status_code == 200


def test_users_are_created_deactivated_after_a_count_and_reactivated(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    created = ui.post(
        "/ui/admin/users/create",
        data={
            "csrf_token": csrf,
            "username": "Bob",
            "password": "bob-has-a-long-password",
            "email": " bob@example.org ",
        },
    )
    assert created.status_code == 200
    assert "Created bob." in created.text
    bob = runtime.accounts.by_name("bob")
    assert bob.email == "bob@example.org"
    for n in range(3):
        make_token(runtime, bob, f"bob {n}")
    confirm = ui.get(f"/ui/admin/users/{bob.id}/deactivate")
    assert "3 active tokens" in confirm.text
    assert runtime.accounts.by_id(bob.id).status is UserStatus.ACTIVE
    done = ui.post(f"/ui/admin/users/{bob.id}/deactivate", data={"csrf_token": csrf})
    assert done.status_code == 200
    assert "3 tokens revoked" in done.text
    assert runtime.accounts.by_id(bob.id).status is UserStatus.DEACTIVATED
    back = ui.post(f"/ui/admin/users/{bob.id}/reactivate", data={"csrf_token": csrf})
    assert "Reactivated bob" in back.text
    assert runtime.accounts.by_id(bob.id).status is UserStatus.ACTIVE
    assert runtime.tokens.list(bob.id, status=TokenStatus.ACTIVE).items == []
    types = event_types(runtime)
    assert {"user.created", "user.deactivated", "user.reactivated"} <= set(types)


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"username": "bad name!", "password": "long-enough-password"}, "username", 422),
        ({"username": "carol", "password": "short"}, "password", 422),
        ({"username": "ROOT", "password": "long-enough-password"}, "username", 409),
        ({"username": "carol", "password": "long-enough-password", "email": "no-at"}, "email", 422),
    ],
)
def test_a_refused_user_is_named_by_its_field_and_audited(
    ui: TestClient,
    runtime: Runtime,
    root: UserRecord,
    fields: dict[str, str],
    field: str,
    status: int,
) -> None:
    csrf = log_in(ui, "root")
    before = snapshot(runtime)["users"]
    answer = ui.post("/ui/admin/users/create", data={"csrf_token": csrf, **fields})
    assert answer.status_code == status
    assert list(field_errors(answer.text)) == [field]
    assert snapshot(runtime)["users"] == before
    assert "admin.failed" in event_types(runtime)


def test_the_last_admin_cannot_be_deactivated(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    answer = ui.post(f"/ui/admin/users/{root.id}/deactivate", data={"csrf_token": csrf})
    assert answer.status_code == 409
    assert "last active admin" in answer.text
    assert runtime.accounts.by_id(root.id).status is UserStatus.ACTIVE


def test_every_token_is_listed_with_filters_and_revoked_by_an_admin(
    ui: TestClient, runtime: Runtime, root: UserRecord, alice: UserRecord
) -> None:
    alices = make_token(runtime, alice, "alice laptop")
    make_token(runtime, root, "root laptop")
    key = admin_key(runtime, root, "ops")
    csrf = log_in(ui, "root")
    every = ui.get("/ui/admin/tokens").text
    assert all(label in every for label in ("alice laptop", "root laptop", "ops"))
    by_alice = ui.get("/ui/admin/tokens?user=alice").text
    assert "alice laptop" in by_alice
    assert "root laptop" not in by_alice
    assert "root laptop" not in ui.get(f"/ui/admin/tokens?user={alice.id}").text
    keys_only = ui.get("/ui/admin/tokens?kind=admin_key").text
    assert ">ops<" in keys_only
    assert "root laptop" not in keys_only
    assert "No user named" in ui.get("/ui/admin/tokens?user=nobody").text
    done = ui.post(f"/ui/admin/tokens/{alices.record.id}/revoke", data={"csrf_token": csrf})
    assert done.status_code == 200
    assert runtime.tokens.get(None, alices.record.id).revoke_reason == "admin"
    assert ">alice laptop<" in ui.get("/ui/admin/tokens?status=revoked").text
    # A user token is not an admin key: the keys page does not revoke it.
    other = make_token(runtime, alice, "not a key")
    answer = ui.post(f"/ui/admin/keys/{other.record.id}/revoke", data={"csrf_token": csrf})
    assert answer.status_code == 404
    assert runtime.tokens.get(None, other.record.id).revoked_at is None
    assert runtime.tokens.get(None, key.record.id).revoked_at is None


def test_admin_keys_default_to_seven_days_and_show_the_one_year_maximum(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    page = ui.get("/ui/admin/keys").text
    assert 'name="days" type="number" inputmode="numeric" min="1" max="365" value="7"' in page
    assert "at most 365 days (one year)" in page
    answer = ui.post(
        "/ui/admin/keys/create",
        data={"csrf_token": csrf, "label": "ops script", "days": "7", "scopes": ["introspect"]},
    )
    assert answer.status_code == 201
    assert answer.headers["cache-control"] == "no-store"
    (secret,) = re.findall(r'value="(twa_[0-9A-Za-z]+)"', answer.text)
    key = runtime.verification.verify(secret).token
    assert key is not None
    assert key.scopes == ("introspect",)
    assert key.expires_at is not None
    assert (key.expires_at - runtime.clock.now()).days == 7
    assert secret not in ui.get("/ui/admin/keys").text
    too_long = ui.post(
        "/ui/admin/keys/create",
        data={"csrf_token": csrf, "label": "x", "days": "366", "scopes": ["admin"]},
    )
    assert too_long.status_code == 422
    assert "365" in field_errors(too_long.text)["days"]
    revoke = ui.post(f"/ui/admin/keys/{key.id}/revoke", data={"csrf_token": csrf})
    assert revoke.status_code == 200
    assert runtime.tokens.get(None, key.id).revoked_at is not None


def test_the_audit_log_filters_and_pages_by_seq(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    for n in range(60):
        make_user(runtime, f"user{n}")
    log_in(ui, "root")
    first = ui.get("/ui/admin/audit?type=user.created").text
    seqs = [int(s) for s in re.findall(r'<th scope="row">(\d+)</th>', first)]
    assert len(seqs) == 50
    assert seqs == sorted(seqs)
    following = re.search(r'href="/ui/admin/audit\?([^"]+)">Next page', first)
    assert following
    assert f"after={seqs[-1]}" in following[1]
    assert "type=user.created" in following[1]
    second = ui.get("/ui/admin/audit?" + following[1].replace("&amp;", "&")).text
    rest = [int(s) for s in re.findall(r'<th scope="row">(\d+)</th>', second)]
    assert len(rest) == 11  # root and user0..user59, 61 in all
    assert min(rest) > seqs[-1]
    assert "Next page" not in second
    by_subject = ui.get(f"/ui/admin/audit?subject={root.id}").text
    assert by_subject.count('<th scope="row">') == 1
    sessions = ui.get("/ui/admin/audit?type=session.created").text
    assert sessions.count('<th scope="row">') == 1
    actors = re.compile(r'<td data-label="Actor"><code class="id">([^<]+)</code>')
    actor = actors.search(ui.get("/ui/admin/audit?type=user.created").text)
    assert actor
    by_actor = ui.get(f"/ui/admin/audit?actor={actor[1]}")
    assert by_actor.status_code == 200
    assert set(actors.findall(by_actor.text)) == {actor[1]}


def test_the_policy_is_edited_and_a_bad_value_is_named_by_its_field(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    page = ui.get("/ui/admin/policy").text
    assert (
        'id="user_max_days" name="user_max_days" type="text" inputmode="numeric" value="365"'
        in (page)
    )
    good = {
        "csrf_token": csrf,
        "user_default_days": "30",
        "user_max_days": "90",
        "admin_default_days": "7",
        "admin_max_days": "365",
        "reminder_days": "7, 1",
    }
    saved = ui.post("/ui/admin/policy", data=good)
    assert saved.status_code == 200
    assert "Policy saved." in saved.text
    assert runtime.policies.current().user_token.max_days == 90
    assert "policy.updated" in event_types(runtime)
    for field, value, message in [
        ("user_default_days", "120", "between 1 and max_days (90)"),
        ("admin_max_days", "400", "between 1 and 365"),
        ("reminder_days", "7, soon", "whole number"),
        ("user_max_days", "", "whole number"),
    ]:
        before = snapshot(runtime)["policy"]
        answer = ui.post("/ui/admin/policy", data={**good, field: value})
        assert answer.status_code == 422, field
        errors = field_errors(answer.text)
        assert list(errors) == [field]
        assert message in errors[field]
        assert f'value="{value}"' in answer.text
        assert snapshot(runtime)["policy"] == before
    assert runtime.policies.current().user_token.max_days == 90


def test_a_form_token_from_the_login_page_is_not_a_session_token(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    login_binding = csrf_of(ui.get("/ui/login").text)
    log_in(ui, "root")
    answer = ui.post("/ui/admin/users/create", data={"csrf_token": login_binding})
    assert answer.status_code == 403
