"""Forms that mint a secret act once: sending the same form again (a reload that re-posts it
without JavaScript, a double click) mints nothing more and says so."""

from __future__ import annotations

import re

from starlette.testclient import TestClient
from web_support import csrf_of, log_in

from tokenward.domain.model import UserRecord
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.testing import make_token, make_user

_FORM_ID = re.compile(r'name="form_id" value="([^"]+)"')


def form_id_of(page: str) -> str:
    found = _FORM_ID.search(page)
    assert found, page
    return found[1]


def test_each_rendering_of_the_create_form_carries_its_own_id(
    ui: TestClient, alice: UserRecord
) -> None:
    log_in(ui, "alice")
    first, second = (form_id_of(ui.get("/ui/tokens/create").text) for _ in range(2))
    assert first != second


def test_sending_the_create_form_twice_creates_one_token(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    csrf = log_in(ui, "alice")
    form = {
        "csrf_token": csrf,
        "form_id": form_id_of(ui.get("/ui/tokens/create").text),
        "label": "ci deploy",
        "lifetime": "30",
    }
    assert ui.post("/ui/tokens/create", data=form).status_code == 201
    again = ui.post("/ui/tokens/create", data=form)
    assert again.status_code == 409
    assert "already sent" in again.text
    assert "tw" + "u_" not in again.text  # no secret, old or new
    assert len(runtime.tokens.list(alice.id).items) == 1


def test_a_form_refused_for_its_input_can_be_sent_again_once_corrected(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    csrf = log_in(ui, "alice")
    form_id = form_id_of(ui.get("/ui/tokens/create").text)
    form = {"csrf_token": csrf, "form_id": form_id, "lifetime": "30"}
    refused = ui.post("/ui/tokens/create", data=form | {"label": ""})
    assert [r.status_code for r in refused.history] == [303]  # back to the form page
    assert form_id_of(refused.text) != form_id  # the form comes back with a new id
    assert runtime.tokens.list(alice.id).items == []
    assert ui.post("/ui/tokens/create", data=form | {"label": "fixed"}).status_code == 201
    assert [t.label for t in runtime.tokens.list(alice.id).items] == ["fixed"]


def test_rotating_twice_with_the_same_form_rotates_once(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    csrf = log_in(ui, "alice")
    token = make_token(runtime, alice, label="deploy")
    page = ui.get(f"/ui/tokens/{token.record.id}/rotate").text
    form = {"csrf_token": csrf, "form_id": form_id_of(page), "grace": "3600"}
    assert ui.post(f"/ui/tokens/{token.record.id}/rotate", data=form).status_code == 201
    assert ui.post(f"/ui/tokens/{token.record.id}/rotate", data=form).status_code == 409
    assert len(runtime.tokens.list(alice.id).items) == 2


def test_creating_an_admin_key_twice_with_the_same_form_creates_one(
    ui: TestClient, runtime: Runtime
) -> None:
    root = make_user(runtime, "root", is_admin=True)
    log_in(ui, "root")
    page = ui.get("/ui/admin/keys").text
    form = {
        "csrf_token": csrf_of(page),
        "form_id": form_id_of(page),
        "label": "ops",
        "days": "7",
        "scopes": ["admin"],
    }
    assert ui.post("/ui/admin/keys/create", data=form).status_code == 201
    assert ui.post("/ui/admin/keys/create", data=form).status_code == 409
    keys = [t for t in runtime.tokens.list(root.id).items if t.kind is TokenKind.ADMIN]
    assert len(keys) == 1
