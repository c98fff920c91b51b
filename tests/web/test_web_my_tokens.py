"""My tokens in the UI: the list, creating one (the secret shown once), bad input shown next to
its field, revoking and rotating — through the services, audited as the API audits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from starlette.testclient import TestClient
from web_support import AGENT, field_errors, log_in, sent_back, snapshot

from tokenward.domain.model import TokenStatus, UserRecord
from tokenward.runtime import Runtime
from tokenward.store.base import EventQuery
from tokenward.testing import TEST_ACTOR, FakeClock, make_token

SECRET = re.compile(r'value="(tw[a-z]_[0-9A-Za-z]+)"')


def create(ui: TestClient, csrf: str, **fields: object) -> tuple[int, str]:
    data = {"csrf_token": csrf, "label": "ci deploy", "lifetime": "30", **fields}
    answer = ui.post("/ui/tokens/create", data=data)
    return answer.status_code, answer.text


def test_creating_a_token_shows_its_secret_once_and_never_again(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    csrf = log_in(ui, "alice")
    answer = ui.post(
        "/ui/tokens/create",
        data={"csrf_token": csrf, "label": "ci deploy", "lifetime": "30", "scopes": ["read"]},
    )
    assert answer.status_code == 201
    assert answer.headers["cache-control"] == "no-store"
    assert "You will not see it again" in answer.text
    secret = SECRET.findall(answer.text)
    assert len(secret) == 1
    # Shown in the answer to the post itself: no redirect puts the secret in a URL.
    assert answer.history == []
    assert secret[0] not in str(answer.url)
    assert runtime.verification.verify(secret[0]).user.id == alice.id
    (record,) = runtime.tokens.list(alice.id).items
    assert record.scopes == ("read",)
    assert record.expires_at == runtime.clock.now() + timedelta(days=30)
    for path in ("/ui/tokens", "/ui/tokens/create", f"/ui/tokens/{record.id}/revoke", "/"):
        assert secret[0] not in ui.get(path).text


def test_the_created_page_replaces_itself_in_the_history(ui: TestClient, alice: UserRecord) -> None:
    """With JavaScript, reloading shows the list instead of posting the form again."""
    _, page = create(ui, log_in(ui, "alice"))
    assert 'data-replace-url="/ui/tokens"' in page


def test_creating_is_audited_with_the_session_address_and_agent(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    create(ui, log_in(ui, "alice"))
    (event,) = [e for e in runtime.audit.query(EventQuery()) if e.type == "token.created"]
    assert event.actor.startswith("ses_")
    assert event.ip == "testclient"
    assert event.user_agent == AGENT


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"label": ""}, "label", "Label: must not be empty."),
        ({"label": "   "}, "label", "Label: must not be empty."),
        ({"label": "x" * 101}, "label", "Label: must be at most 100 characters."),
        ({"lifetime": "400"}, "lifetime", "between 1 and the policy maximum of 365 days"),
        ({"lifetime": "forever"}, "lifetime", "must be one of the lifetimes offered"),
        ({"lifetime": "date", "expires_on": "05/01/2026"}, "expires_on", "choose a day"),
        ({"lifetime": "date", "expires_on": ""}, "expires_on", "choose a day"),
        ({"lifetime": "date", "expires_on": "2025-12-31"}, "expires_on", "in the future"),
        ({"lifetime": "date", "expires_on": "2027-06-01"}, "expires_on", "maximum of 365"),
        ({"lifetime": "never"}, "lifetime", "the policy requires every token to expire"),
        ({"scopes": ["admin"]}, "scopes", "unknown scope 'admin'"),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error_by_its_field_and_creates_nothing(
    ui: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    fields: dict[str, object],
    field: str,
    message: str,
) -> None:
    csrf = log_in(ui, "alice")
    before = snapshot(runtime)
    data = {"csrf_token": csrf, "label": "ci deploy", "lifetime": "30", **fields}
    page = sent_back(ui.post("/ui/tokens/create", data=data), "/ui/tokens/create")
    errors = field_errors(page)
    assert list(errors) == [field]
    assert message in errors[field]
    assert f'aria-describedby="{field}-hint {field}-error"' in page
    assert snapshot(runtime) == before
    assert not SECRET.search(page)


def test_a_refused_form_keeps_what_was_typed(ui: TestClient, alice: UserRecord) -> None:
    _, page = create(ui, log_in(ui, "alice"), label="kept <b>", lifetime="400", scopes=["read"])
    assert 'value="kept &lt;b&gt;"' in page
    assert re.search(r'id="scope-read" name="scopes" value="read" checked', page)


def test_the_form_offers_presets_within_the_policy_and_a_date(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    document: dict[str, object] = {
        "user_token": {"default_days": 14, "max_days": 30, "allow_no_expiry": False},
        "admin_key": {"default_days": 7, "max_days": 365},
        "reminder_days": [7],
    }
    runtime.policies.update(document, TEST_ACTOR)
    log_in(ui, "alice")
    page = ui.get("/ui/tokens/create").text
    offered = re.findall(r'name="lifetime" value="([^"]+)"', page)
    assert offered == ["7", "14", "30", "date"]
    assert re.search(r'value="14" checked', page)  # the policy's default is preselected
    assert "at most 30 days" in page
    # The date field shows the browser's own format: the hint names none, the field's limits
    # are the policy's (the clock stands on 2026-01-01).
    assert "YYYY" not in page
    assert 'type="date" value="" min="2026-01-02" max="2026-01-31"' in page


def test_each_scope_is_offered_with_its_description(ui: TestClient, alice: UserRecord) -> None:
    log_in(ui, "alice")
    page = ui.get("/ui/tokens/create").text
    assert 'value="read" aria-describedby="scope-read-about"' in page
    about = re.search(r'<p class="scope-about" id="scope-read-about">([^<]+)</p>', page)
    assert about and about[1] == "Read data in the APIs that tokenward protects"
    assert "See your tokens and when they were used" in page  # tokens:read, built in


def test_the_list_shows_expiry_last_use_and_filters_by_status(
    ui: TestClient, runtime: Runtime, alice: UserRecord, clock: FakeClock
) -> None:
    soon = make_token(runtime, alice, "soon", expires_in_days=3)
    make_token(runtime, alice, "later", expires_in_days=90)
    gone = make_token(runtime, alice, "gone")
    runtime.tokens.revoke(gone.record.id, by=TEST_ACTOR, owner_id=alice.id)
    runtime.usage.seen(soon.record.id, ("203.0.113.9", 50000))
    runtime.usage.flush()
    clock.advance(hours=2)
    log_in(ui, "alice")
    page = ui.get("/ui/tokens").text
    assert re.search(r"expiry-soon.*in 3 days", page)  # 2 hours gone: still about 3 days
    assert "in 90 days" in page
    assert soon.record.hint in page
    assert re.search(
        r"2 hours ago</time></span> <span class=\"muted small from\">from 203.0.113.9", page
    )
    active = ui.get("/ui/tokens?status=active").text
    assert ">soon<" in active
    assert ">gone<" not in active
    assert ">gone<" in ui.get("/ui/tokens?status=revoked").text


def test_revoking_asks_first_then_says_when_every_node_refuses_it(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    token = make_token(runtime, alice, "old laptop")
    csrf = log_in(ui, "alice")
    confirm = ui.get(f"/ui/tokens/{token.record.id}/revoke")
    assert confirm.status_code == 200
    assert "Revoke “old laptop”?" in confirm.text
    assert runtime.tokens.get(alice.id, token.record.id).revoked_at is None  # asking is free
    done = ui.post(f"/ui/tokens/{token.record.id}/revoke", data={"csrf_token": csrf})
    assert done.status_code == 200
    record = runtime.tokens.get(alice.id, token.record.id)
    assert record.status(runtime.clock.now()) is TokenStatus.REVOKED
    assert record.revoked_at is not None
    effective_by = record.revoked_at + runtime.settings.max_staleness
    assert effective_by.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] in done.text
    again = ui.post(f"/ui/tokens/{token.record.id}/revoke", data={"csrf_token": csrf})
    assert again.status_code == 200  # idempotent, as the API


def test_someone_elses_token_is_not_found(
    ui: TestClient, runtime: Runtime, alice: UserRecord, root: UserRecord
) -> None:
    theirs = make_token(runtime, root, "root's")
    csrf = log_in(ui, "alice")
    assert ui.get(f"/ui/tokens/{theirs.record.id}/revoke").status_code == 404
    before = snapshot(runtime)
    for action in ("revoke", "rotate"):
        data = {"csrf_token": csrf, "grace": "0"}
        answer = ui.post(f"/ui/tokens/{theirs.record.id}/{action}", data=data)
        assert answer.status_code == 404
    assert snapshot(runtime) == before


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_for_the_grace(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    old = make_token(runtime, alice, "deploy", scopes=("read",))
    csrf = log_in(ui, "alice")
    form = ui.get(f"/ui/tokens/{old.record.id}/rotate").text
    assert re.findall(r'<option value="(\d+)"', form) == ["0", "3600", "86400", "604800"]
    answer = ui.post(
        f"/ui/tokens/{old.record.id}/rotate", data={"csrf_token": csrf, "grace": "86400"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    (secret,) = SECRET.findall(answer.text)
    new = runtime.verification.verify(secret).token
    assert new is not None
    assert new.label == "deploy"
    assert new.scopes == ("read",)
    assert runtime.verification.verify(old.secret).token is not None  # still works during the grace
    assert "Token rotated" in answer.text
    path = f"/ui/tokens/{old.record.id}/rotate"
    again = sent_back(ui.post(path, data={"csrf_token": csrf, "grace": "0"}), path)
    assert "already rotated" in field_errors(again)["grace"]
    assert re.search(r'<option value="0" selected>', again)  # the grace as chosen


def test_a_grace_not_offered_is_refused(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    old = make_token(runtime, alice, "deploy")
    csrf = log_in(ui, "alice")
    before = snapshot(runtime)
    path = f"/ui/tokens/{old.record.id}/rotate"
    answer = sent_back(ui.post(path, data={"csrf_token": csrf, "grace": "999999"}), path)
    assert "choose one of the periods offered" in field_errors(answer)["grace"]
    assert snapshot(runtime) == before
    assert "grace-error" not in ui.get(path).text  # shown once: a reload shows the plain form


def test_pages_need_a_session_and_a_bearer_token_is_not_one(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    token = make_token(runtime, alice, "api only")
    for headers in ({}, {"Authorization": f"Bearer {token.secret}"}):
        answer = ui.get("/ui/tokens", headers=headers, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/login"
    for path in ("/", "/ui"):
        assert ui.get(path, follow_redirects=False).headers["location"] == "/ui/login"
    log_in(ui, "alice")
    assert ui.get("/", follow_redirects=False).headers["location"] == "/ui/tokens"
