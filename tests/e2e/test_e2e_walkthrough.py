"""The README's walk-through, run as written against a real server."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from server import ADMIN_PASSWORD, Server, clean_env, run_script

from backends import require_service
from installed import TOKENWARD

README = Path(__file__).parents[2] / "README.md"


def _block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"<!-- {name}:start -->\s*```sh\n(?P<script>.*?)```\s*<!-- {name}:end -->", re.S
    )


pytestmark = pytest.mark.slow


@dataclasses.dataclass(frozen=True)
class Answer:
    """One answer in the script's output; ``status`` and ``headers`` only from ``curl -i``."""

    status: int | None
    headers: dict[str, str]
    body: Any


def split_answers(output: str) -> list[Answer]:
    """Cut the concatenated output of the script's curl calls into answers."""
    decoder = json.JSONDecoder()
    answers, pos = [], 0
    while pos < len(output):
        if output[pos].isspace():
            pos += 1
            continue
        status, headers = None, {}
        if output.startswith("HTTP/", pos):
            head_end = output.index("\r\n\r\n", pos)
            status_line, *lines = output[pos:head_end].split("\r\n")
            status = int(status_line.split()[1])
            headers = {
                n.strip().lower(): v.strip() for n, _, v in (h.partition(":") for h in lines)
            }
            pos = head_end + 4
        body, pos = decoder.raw_decode(output, pos)
        answers.append(Answer(status, headers, body))
    return answers


@pytest.fixture
def curl() -> None:
    """The walk-throughs call curl: skipped without it, a failure under CI."""
    require_service("curl", shutil.which("curl") is not None)


def walkthrough(port: int, name: str = "walkthrough") -> str:
    """The README's shell block ``name``, aimed at ``port`` instead of 8080."""
    found = _block(name).search(README.read_text("utf-8"))
    assert found, f"README.md has no {name} block between the markers"
    script = found["script"]
    assert "127.0.0.1:8080" in script
    script = script.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    assert ":8080" not in script
    return script


@pytest.mark.usefixtures("curl")
def test_readme_walkthrough_runs_as_written_and_shows_use_revoke_and_401(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    # As the README says: no database URL (both share ./tokenward.db), the admin password set.
    server = start_server({"TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD})
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "tokenward").symlink_to(TOKENWARD)

    out, err = run_script(walkthrough(server.port), tmp_path, clean_env(), timeout=30)
    try:
        answers = split_answers(out)
    except ValueError:
        pytest.fail(f"the walk-through printed something unexpected:\n{out}")

    me = answers[0]
    assert me.status == 200, out
    assert me.headers["tokenward-token-expires"] == me.body["expires_at"]
    assert me.body["user"]["username"] == "admin"
    assert "created tok_" in err  # the CLI's note, on stderr

    (revoked,) = [a.body for a in answers if a.body.get("status") == "revoked"]
    assert revoked["effective_by"] > revoked["revoked_at"]
    ci = next(a.body for a in answers if a.body.get("label") == "ci deploy")
    assert revoked["id"] == ci["id"]

    for refused in answers[-2:]:
        assert refused.status == 401, out
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert refused.body["error"] == "invalid_token"
    assert (tmp_path / "tokenward.db").exists()  # the default database, shared by both

    server.stop()
    assert ADMIN_PASSWORD not in server.output  # a given password is never echoed
    assert "Created the org admin" not in server.output


@pytest.mark.usefixtures("curl")
def test_readme_admin_walkthrough_runs_as_written(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    """Key, new user, deactivation that stops his token, the audit entry, a session's policy
    change: all as the README shows them."""
    server = start_server({"TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD})
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "tokenward").symlink_to(TOKENWARD)

    script = walkthrough(server.port, "admin-walkthrough")
    out, err = run_script(script, tmp_path, clean_env(), timeout=60)
    answers = split_answers(out)
    users, deactivated, refused, audit, policy = answers
    assert {u["username"]: u["active_tokens"] for u in users.body["items"]} == {
        "admin": 1,  # the admin key
        "bob": 1,
    }
    assert deactivated.body["status"] == "deactivated"
    assert deactivated.body["tokens_revoked"] == 1
    assert refused.status == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    (event,) = audit.body["items"]
    assert event["type"] == "user.deactivated" and event["subject"] == deactivated.body["id"]
    assert event["actor"].startswith("tok_") and event["ip"] == "127.0.0.1"
    assert event["user_agent"].startswith("curl/")
    assert policy.body["user_token"] == {
        "default_days": 30,
        "max_days": 90,
        "allow_no_expiry": False,
    }
    assert not (tmp_path / "cookies.txt").exists()
    assert "created tok_" in err
