"""``tokenward.sdk.verify_signature``: accepts what the server signs, rejects a tampered body,
a wrong secret, a stale or future timestamp and malformed headers."""

from __future__ import annotations

import pytest

from tokenward.notify.webhooks import new_secret, signature_header
from tokenward.sdk import verify_signature

SECRET = new_secret()
BODY = b'{"id":"evt_7","type":"token.expiring","at":"2026-01-01T00:00:00.000Z","data":{}}'
NOW = 1_800_000_000


def test_a_signature_made_by_the_server_verifies() -> None:
    assert verify_signature(SECRET, signature_header(SECRET, NOW, BODY), BODY, now=NOW)
    assert verify_signature(SECRET, signature_header(SECRET, NOW, BODY), BODY, now=NOW + 299)


def test_a_tampered_body_is_rejected() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, header, BODY.replace(b"7", b"8"), now=NOW)
    assert not verify_signature(SECRET, header, BODY + b" ", now=NOW)


def test_a_wrong_secret_is_rejected() -> None:
    header = signature_header(new_secret(), NOW, BODY)
    assert not verify_signature(SECRET, header, BODY, now=NOW)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_a_stale_or_future_timestamp_is_rejected(skew: int) -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, header, BODY, now=NOW + skew)


def test_the_timestamp_is_signed_too() -> None:
    header = signature_header(SECRET, NOW, BODY)
    moved = header.replace(f"t={NOW}", f"t={NOW + 10}")
    assert not verify_signature(SECRET, moved, BODY, now=NOW + 10)


def test_the_default_clock_is_the_machines() -> None:
    import time

    now = int(time.time())
    assert verify_signature(SECRET, signature_header(SECRET, now, BODY), BODY)
    assert not verify_signature(SECRET, signature_header(SECRET, now - 3600, BODY), BODY)


@pytest.mark.parametrize(
    "header",
    ["", "t=,v1=", "v1=abc", f"t={NOW}", f"t=x{NOW},v1=00", f"t={NOW},v1=é", "garbage"],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=NOW)


def test_any_of_several_signatures_may_match() -> None:
    good = signature_header(SECRET, NOW, BODY)
    header = f"t={NOW},v1={'0' * 64},{good.split(',')[1]}"
    assert verify_signature(SECRET, header, BODY, now=NOW)
