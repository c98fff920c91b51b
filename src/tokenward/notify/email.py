"""Email to a token's owner over SMTP (stdlib ``smtplib``, called from the notifier's thread,
never on the event loop): a plain-text and an HTML part, the HTML escaped."""

from __future__ import annotations

import dataclasses
import html
import smtplib
import ssl
from email.message import EmailMessage

from tokenward.domain.model import Event, TokenRecord, UserRecord
from tokenward.notify.webhooks import Attempt

__all__ = ["Mailer", "SmtpConfig", "render"]


@dataclasses.dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send. STARTTLS always verifies the certificate and the host name,
    against ``ca_file`` (PEM) if given, else the system's CAs; there is no switch to skip it."""

    host: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    sender: str = "tokenward@localhost"
    timeout: float = 10.0
    ca_file: str | None = None


# What happened, by event type: a subject and the sentence of the body ({label}, {days}).
_WHAT = {
    "token.created": "A new token {label} was created for your account",
    "token.expiring": "Your token {label} expires in {days}",
    "token.expired": "Your token {label} has expired",
    "token.revoked": "Your token {label} was revoked",
    "token.rotated": "Your token {label} was rotated",
    "token.leaked": "Your token {label} was reported leaked and has been revoked",
    "token.reuse_detected": "A replaced secret of your token {label} was used after rotation",
    "token.dead_use": "Your token {label} is dead but is still being presented",
    "user.deactivated": "Your tokenward account was deactivated",
}


def render(event: Event, owner: UserRecord, token: TokenRecord | None, sender: str) -> EmailMessage:
    """The message for ``event`` to ``owner`` (multipart/alternative: text, then HTML)."""
    label = token.label if token is not None else str(event.details.get("label", "?"))
    days = event.details.get("days", "?")
    days_text = "1 day" if days == 1 else f"{days} days"
    what = _WHAT.get(event.type, "Event " + event.type + " concerns your token {label}")
    sentence = what.format(label=f"\u201c{label}\u201d", days=days_text)
    facts = _facts(event, token)
    message = EmailMessage()
    message["Subject"] = f"[tokenward] {sentence}"
    message["From"] = sender
    message["To"] = owner.email or ""
    message["Tokenward-Event"] = event.type  # for mail filters
    text = "\n".join([f"Hello {owner.username},", "", sentence + ".", "", *facts, "", "tokenward"])
    message.set_content(text)
    items = "".join(f"<li>{html.escape(fact)}</li>" for fact in facts)
    message.add_alternative(
        f"<p>Hello {html.escape(owner.username)},</p><p>{html.escape(sentence)}.</p>"
        f"<ul>{items}</ul><p>tokenward</p>",
        subtype="html",
    )
    return message


def _facts(event: Event, token: TokenRecord | None) -> list[str]:
    facts = [f"Event: {event.type} at {event.at.isoformat()}"]
    if token is not None:
        facts.append(f"Token: {token.label} ({token.id}, {token.hint})")
        expires = "never" if token.expires_at is None else token.expires_at.isoformat()
        facts.append(f"Expires: {expires}")
    return facts


class Mailer:
    """Sends one message a connection: notices are few, and a fresh connection survives
    server restarts without any pool to heal."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(self, message: EmailMessage) -> Attempt:
        config = self.config
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
                if config.starttls:
                    # Read at each send: a renewed CA file is used without a restart.
                    smtp.starttls(context=ssl.create_default_context(cafile=config.ca_file))
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(message)
        except smtplib.SMTPResponseException as error:
            return Attempt(False, error.smtp_code, f"SMTP {error.smtp_code}")
        except ssl.SSLCertVerificationError as error:  # the reason says what to fix
            return Attempt(False, None, f"{type(error).__name__}: {error.verify_message}"[:200])
        except (smtplib.SMTPException, OSError) as error:
            return Attempt(False, None, type(error).__name__)
        return Attempt(True, 250)
