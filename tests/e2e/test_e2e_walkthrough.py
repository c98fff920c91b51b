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
from server import ADMIN_PASSWORD, TOKENWARD, Server, clean_env, run_script

README = Path(__file__).parents[2] / "README.md"
BLOCK = re.compile(
    r"<!-- walkthrough:start -->\s*```sh\n(?P<script>.*?)```\s*<!-- walkthrough:end -->", re.S
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


def walkthrough(port: int) -> str:
    """The README's shell block, aimed at ``port`` instead of 8080."""
    found = BLOCK.search(README.read_text("utf-8"))
    assert found, "README.md has no walkthrough block between the markers"
    script = found["script"]
    assert "127.0.0.1:8080" in script
    script = script.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    assert ":8080" not in script
    return script


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
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
