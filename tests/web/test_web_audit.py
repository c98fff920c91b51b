"""The audit log page: newest first, paged by seq both ways, filtered by type, actor, subject
and days, each event told as a person would ("alice via token 'ci deploy'", "revoked token
'ci deploy' of bob"), with the raw ids and the full JSON one click away."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from starlette.testclient import TestClient
from web_support import log_in

from tokenward.domain.model import Actor, UserRecord
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.testing import FakeClock, make_token, make_user

CLI = Actor("cli")
_ROW = re.compile(r'<tr data-seq="(\d+)">(.*?)</tr>', re.S)


def rows(page: str) -> list[tuple[int, str, str]]:
    """Each event row of ``page``: its seq, summary and actor name (unescaped)."""
    found = []
    for seq, row in _ROW.findall(page):
        summary = re.search(r'<span class="summary">(.*?)</span>', row, re.S)
        actor = re.search(r'<td data-label="Who" class="who"><span title="[^"]*">(.*?)</span>', row)
        assert summary and actor, row
        said = html.unescape(summary[1]).replace("\u2011", "-")  # dates' hyphens never break
        found.append((int(seq), said, html.unescape(actor[1])))
    return found


def link(page: str, text: str) -> str | None:
    found = re.search(rf'<a href="(/ui/admin/audit[^"]*)"[^>]*>{re.escape(text)}</a>', page)
    return None if found is None else html.unescape(found[1])


def test_events_are_newest_first_and_paged_by_seq_both_ways(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    for n in range(120):
        make_user(runtime, f"user{n}")
    log_in(ui, "root")
    first = ui.get("/ui/admin/audit?type=user.created").text
    seqs = [seq for seq, _, _ in rows(first)]
    assert len(seqs) == 50
    assert seqs == sorted(seqs, reverse=True)
    assert rows(first)[0][1] == "created user user119"
    assert link(first, "‹ Newer events") is None
    older = link(first, "Older events ›")
    assert older == f"/ui/admin/audit?type=user.created&before={seqs[-1]}"
    second = ui.get(older).text
    assert [s for s, _, _ in rows(second)] == sorted([s for s, _, _ in rows(second)], reverse=True)
    assert max(s for s, _, _ in rows(second)) < seqs[-1]
    third = ui.get(link(second, "Older events ›") or "").text
    assert len(rows(third)) == 21  # root and user0..user119: 121 in all
    assert link(third, "Older events ›") is None
    back = ui.get(link(third, "‹ Newer events") or "").text
    assert rows(back) == rows(second)
    assert link(back, "« Newest") == "/ui/admin/audit?type=user.created"


def test_actors_are_named_as_people_and_things(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    bob = make_user(runtime, "bob")
    deploy = runtime.tokens.create(root, NewToken("ci deploy", ("tokens:write",)), by=CLI)
    by_token = Actor(deploy.record.id, "192.0.2.1")
    by_token_name = "root via token 'ci deploy'"
    theirs = runtime.tokens.create(bob, NewToken("bob laptop"), by=by_token)
    runtime.tokens.revoke(theirs.record.id, by=by_token, owner_id=None, reason="admin")
    log_in(ui, "root")
    seen = rows(ui.get("/ui/admin/audit").text)
    summaries = {summary: actor for _, summary, actor in seen}
    assert summaries["revoked token 'bob laptop' of bob"] == "root via token 'ci deploy'"
    assert summaries["created user bob"] == "test"  # an actor with no better name: its id
    made = [(s, a) for _, s, a in seen if s.startswith("created token")]
    assert made == [
        ("created token 'bob laptop' for bob (no scopes; expires 2026-04-01)", by_token_name),
        ("created token 'ci deploy' for root (tokens:write; expires 2026-04-01)", "command line"),
    ]
    login = [actor for _, summary, actor in seen if summary == "logged in to the web UI"]
    assert login == ["root (logging in)"]  # not "anonymous"


def test_a_web_session_names_its_person_and_the_raw_ids_stay_on_hover_and_in_details(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    ui.post(
        "/ui/admin/users/create",
        data={"csrf_token": csrf, "username": "carol", "password": "x" * 12},
    )
    carol = runtime.accounts.by_name("carol")
    page = ui.get("/ui/admin/audit?type=user.created").text
    (seq, summary, actor), *_ = rows(page)
    assert (summary, actor) == ("created user carol", "root (web session)")
    row = dict((int(s), r) for s, r in _ROW.findall(page))[seq]
    session_id = re.search(r'title="(ses_[^"]+)"', row)
    assert session_id  # the raw actor id on hover
    assert f"<code>{session_id[1]}</code>" in row  # and behind the disclosure
    assert f"<code>{carol.id}</code>" in row
    assert "&#34;username&#34;: &#34;carol&#34;" in row  # the full JSON, escaped


def test_summaries_say_what_happened_per_event_type(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    bob = make_user(runtime, "bob")
    token = make_token(runtime, bob, "nightly backup")
    runtime.tokens.rotate(token.record.id, owner_id=None, by=CLI, grace=timedelta(hours=1))
    runtime.accounts.deactivate(bob.id, CLI)
    runtime.accounts.reactivate(bob.id, CLI)
    document: dict[str, object] = {
        "user_token": {"default_days": 30, "max_days": 90, "allow_no_expiry": False},
        "admin_key": {"default_days": 7, "max_days": 365},
        "reminder_days": [7, 1],
    }
    runtime.policies.update(document, CLI)
    log_in(ui, "root")
    said = [summary for _, summary, _ in rows(ui.get("/ui/admin/audit").text)]
    assert "rotated token 'nightly backup' of bob, with a grace of 1 hour" in said
    assert "deactivated bob: 2 tokens revoked, 0 sessions ended" in said
    assert "revoked token 'nightly backup' of bob (account deactivated)" in said
    assert "reactivated bob" in said
    assert (
        "changed the policy: user tokens' default 90 → 30; user tokens' maximum 365 → 90; "
        "reminders 30, 7, 1 → 7, 1" in said
    )
    assert any(
        s.startswith("created token 'nightly backup' for bob (tokens:read, tokens:write; expires ")
        for s in said
    )


def test_filters_by_type_actor_subject_name_and_days(
    ui: TestClient, runtime: Runtime, root: UserRecord, clock: FakeClock
) -> None:
    bob = make_user(runtime, "bob")
    clock.advance(days=2)
    make_token(runtime, bob, "later one")
    log_in(ui, "root")
    page = ui.get("/ui/admin/audit").text
    assert '<option value="token.revoked">Token revoked</option>' in page  # a select of types
    by_type = rows(ui.get("/ui/admin/audit?type=token.created").text)
    ((_, made, _),) = by_type
    assert made.startswith("created token 'later one'")
    by_name = rows(ui.get("/ui/admin/audit?subject=bob").text)  # a username stands for its id
    assert [s for _, s, _ in by_name] == ["created user bob"]
    assert rows(ui.get(f"/ui/admin/audit?subject={bob.id}").text) == by_name
    by_actor = rows(ui.get("/ui/admin/audit?actor=test").text)
    assert {a for _, _, a in by_actor} == {"test"}
    today = clock.now().date()
    recent = rows(ui.get(f"/ui/admin/audit?from={today.isoformat()}").text)
    assert [s for _, s, _ in recent if s.startswith("created")] == [by_type[0][1]]
    earlier = (today - timedelta(days=2)).isoformat()
    before = rows(ui.get(f"/ui/admin/audit?from={earlier}&to={earlier}").text)
    assert "created user bob" in [s for _, s, _ in before]
    assert by_type[0][1] not in [s for _, s, _ in before]


def test_a_bad_day_is_named_and_left_out_and_a_bad_bound_shows_the_newest(
    ui: TestClient, runtime: Runtime, root: UserRecord
) -> None:
    log_in(ui, "root")
    everything = rows(ui.get("/ui/admin/audit").text)
    assert everything
    page = ui.get("/ui/admin/audit?from=31/12/2025&to=2026-01-01&before=abc").text
    assert "From: choose a day in the date field." in page
    assert rows(page) == everything  # the clock stands on 2026-01-01: "to" keeps them all
    backwards = ui.get("/ui/admin/audit?from=2026-02-01&to=2026-01-01").text
    assert "To: must not be before From." in backwards
    assert rows(ui.get("/ui/admin/audit?before=0&after=-1").text) == everything
    assert rows(ui.get("/ui/admin/audit?to=2025-12-31").text) == []
