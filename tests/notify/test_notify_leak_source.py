"""The owner of a token pasted only into a leak report's ``source`` is told, by email, and
neither the token nor a password pasted beside it goes out."""

from __future__ import annotations

from email.message import EmailMessage

from notify_support import node, notifier_of, token, user_with_email

from tokenward.domain.model import Actor
from tokenward.testing import FakeClock

PASTED_PASSWORD = "pasted-password-991"


def test_the_owner_of_a_token_in_the_source_gets_a_redacted_notice(
    database_url: str, clock: FakeClock, smtp: tuple[int, list[EmailMessage]]
) -> None:
    rt = node(database_url, clock, smtp[0])
    try:
        alice = user_with_email(rt, "alice")
        leaked = token(rt, alice, "ci deploy", 30)
        source = f"https://paste.example/1 token={leaked.secret} password={PASTED_PASSWORD}"
        rt.leaks.report([], source, Actor("anonymous", "192.0.2.7"))
        notifier_of(rt).tick()
    finally:
        rt.close()
    notices = [m for m in smtp[1] if m["Tokenward-Event"] == "token.leaked"]
    assert [m["To"] for m in notices] == ["alice@example.org"]
    text = notices[0].get_body(("plain",))
    assert text is not None
    content = text.get_content()
    assert leaked.record.id in content and "reported leaked" in content
    for part in notices[0].walk():
        if not part.is_multipart():
            shown = part.get_content()
            assert leaked.secret not in shown and PASTED_PASSWORD not in shown
