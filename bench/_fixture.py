"""The bench user and its N valid tokens, made through tokenward's public contracts only.

The CLI creates the user and a minting token with scope ``tokens:write``; ``POST /v1/tokens``
on the running server mints the N tokens under test. Both are documented interfaces (README,
API.md), so the bench keeps working while the Python internals change.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping

from _servers import BIN

__all__ = ["FixtureError", "create_minter", "mint_tokens", "mint_tokens_with_ids"]

USERNAME = "bench"


class FixtureError(RuntimeError):
    """The bench user or its tokens could not be made; the message says which step failed."""


def create_minter(env: Mapping[str, str]) -> str:
    """Create user ``bench``; return the secret of a token of it that may create tokens.

    ``env`` names the database (``TOKENWARD_DATABASE_URL``, migrated on first use) and the
    user's password (``TOKENWARD_PASSWORD``).
    """
    _cli(env, "user", "create", USERNAME)
    return _cli(
        env, "token", "create", "--user", USERNAME, "--label", "minter", "--scope", "tokens:write"
    )


def mint_tokens(base_url: str, minter: str, count: int, label: str = "bench") -> list[str]:
    """``count`` new valid tokens of the bench user, with the policy's default lifetime."""
    return [secret for _, secret in mint_tokens_with_ids(base_url, minter, count, label)]


def mint_tokens_with_ids(
    base_url: str, minter: str, count: int, label: str = "bench"
) -> list[tuple[str, str]]:
    """Like :func:`mint_tokens`, with each token's id (for ``DELETE /v1/tokens/{id}``):
    ``(id, secret)`` pairs."""
    return [_mint(base_url, minter, f"{label} {i}") for i in range(count)]


def _mint(base_url: str, minter: str, label: str) -> tuple[str, str]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL
        f"{base_url}/v1/tokens",
        data=json.dumps({"label": label}).encode(),
        headers={"Authorization": f"Bearer {minter}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback URL
            status, body = answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        detail = error.read()[:300]
        raise FixtureError(f"POST /v1/tokens answered {error.code}: {detail!r}") from None
    token_id, secret = body.get("id"), body.get("token")
    if status != 201 or not isinstance(token_id, str) or not isinstance(secret, str):
        raise FixtureError(f"POST /v1/tokens answered {status} without a token, not 201")
    return token_id, secret


def _cli(env: Mapping[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [str(BIN / "tokenward"), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        command = " ".join(arguments[:2])
        raise FixtureError(f"tokenward {command} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()
