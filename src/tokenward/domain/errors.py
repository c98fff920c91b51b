"""Domain errors: what went wrong, in terms a caller can act on.

Each error carries its HTTP answer as plain data (:meth:`TokenwardError.answer`: status,
headers, body), so the server's routes, its FastAPI handlers and the SDK's middlewares all
render the same refusal without knowing one another's frameworks. Most errors only declare
their ``status``, ``title``, ``slug`` and :meth:`~TokenwardError.detail`; those that carry an
RFC 6750 challenge or a ``Retry-After`` build their answer themselves.
"""

from __future__ import annotations

from tokenward.domain import answers
from tokenward.domain.answers import REALM, Answer
from tokenward.domain.bearer import challenge

__all__ = [
    "AuthenticationRequired",
    "Conflict",
    "CsrfRefused",
    "Forbidden",
    "HeaderTooLarge",
    "InsufficientScope",
    "InvalidClient",
    "InvalidInput",
    "InvalidToken",
    "LoginFailed",
    "MalformedCredential",
    "MethodNotAllowed",
    "NotFound",
    "RateLimited",
    "SessionEnded",
    "StoreUnavailable",
    "TokenwardError",
]


class TokenwardError(Exception):
    """Base of every error the domain and service raise on purpose. As such, a ``500``:
    one that no subclass describes is our failure, and says nothing more."""

    status = 500
    title = "Internal server error"
    slug: str | None = None

    def detail(self) -> str:
        """What the answer tells the caller (RFC 9457 ``detail``); never a presented value."""
        return "Something went wrong on our side."

    def answer(self, realm: str = REALM) -> Answer:
        """The HTTP answer to this error; ``realm`` names the protected resource (RFC 6750)."""
        return answers.problem(self.status, self.title, self.detail(), slug=self.slug)


class InvalidInput(TokenwardError):
    """A value a caller sent breaks a rule; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def answer(self, realm: str = REALM) -> Answer:
        return answers.unprocessable([{"field": self.field, "message": self.message}])


class NotFound(TokenwardError):
    """The thing does not exist, or is not the caller's to see (never tell which)."""

    status, title, slug = 404, "Not found", "not-found"

    def detail(self) -> str:
        return "No such resource."


class Conflict(TokenwardError):
    """The request is well-formed but clashes with the current state."""

    status, title, slug = 409, "Conflict", "conflict"

    def detail(self) -> str:
        return str(self)


class Forbidden(TokenwardError):
    """Authenticated, but not allowed (not an admin)."""

    status, title, slug = 403, "Forbidden", "forbidden"

    def detail(self) -> str:
        return "This is not yours to do."


class MethodNotAllowed(TokenwardError):
    """The path exists, not with this method: ``405`` listing those it has (RFC 9110 §15.5.6)."""

    status, title, slug = 405, "Method not allowed", "method-not-allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed

    def detail(self) -> str:
        return f"Use {' or '.join(self.allowed)}."

    def answer(self, realm: str = REALM) -> Answer:
        headers = (("allow", ", ".join(self.allowed)),)
        return answers.problem(405, self.title, self.detail(), slug=self.slug, headers=headers)


class HeaderTooLarge(TokenwardError):
    """A header, or all of them, past the size limit: refused before any parsing or hashing."""

    status, title, slug = 431, "Request header fields too large", "header-too-large"

    def detail(self) -> str:
        return "A header is too large."


class CsrfRefused(TokenwardError):
    """A state-changing request made with the session cookie, without its CSRF token."""

    status, title, slug = 403, "CSRF token missing or wrong", "csrf"

    def detail(self) -> str:
        return "Send the csrf_token of GET /v1/session as the X-CSRF-Token header."


class AuthenticationRequired(TokenwardError):
    """No credential where one is needed, or one of another scheme than Bearer: ``401`` with
    a bare challenge (RFC 6750 §3.1)."""

    status, title, slug = 401, "Authentication required", "authentication-required"

    def detail(self) -> str:
        return "Send a token as 'Authorization: Bearer <token>'."

    def answer(self, realm: str = REALM) -> Answer:
        return answers.authentication_required(realm, self.title, self.detail(), self.slug)


class SessionEnded(AuthenticationRequired):
    """A session cookie that is not live (unknown, expired, logged out) presented to the API:
    a credential was presented, so never anonymous treatment (P2). Every dead cookie reads
    alike, so the answer tells nothing about which sessions exist."""

    title, slug = "Session ended", "session-ended"

    def detail(self) -> str:
        return "The session has expired or ended; log in again."


class LoginFailed(TokenwardError):
    """Wrong username or password: one answer for both, so names cannot be probed."""

    status, title, slug = 401, "Login failed", "login-failed"

    def detail(self) -> str:
        return "Wrong username or password."

    def answer(self, realm: str = REALM) -> Answer:
        headers = (("www-authenticate", challenge(realm)),)
        return answers.problem(401, self.title, self.detail(), slug=self.slug, headers=headers)


class MalformedCredential(TokenwardError):
    """The request breaks RFC 6750 (two ``Authorization`` headers, a token in the query…);
    ``reason`` says how, and never quotes what was presented."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def answer(self, realm: str = REALM) -> Answer:
        return answers.invalid_request(self.reason, realm)


class InvalidToken(TokenwardError):
    """A presented credential is not valid.

    ``reason`` is ``expired`` or ``revoked`` only when the caller holds the real secret of a
    stored token; anything else (unknown, malformed) is ``None`` so the answer reveals nothing.
    """

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "invalid")
        self.reason = reason

    def answer(self, realm: str = REALM) -> Answer:
        return answers.invalid_token(self.reason, realm)


class InvalidClient(TokenwardError):
    """OAuth client authentication failed (RFC 6749 §5.2): a wrong secret, or an id that is not
    the secret's. One answer for both, so neither part can be probed; the challenge names the
    Basic scheme, which the client used (``basic``) or may use."""

    status, title, slug = 401, "Invalid client", "invalid-client"

    def __init__(self, *, basic: bool) -> None:
        super().__init__("invalid client")
        self.basic = basic

    def detail(self) -> str:
        return "Client authentication failed."

    def answer(self, realm: str = REALM) -> Answer:
        headers = (("www-authenticate", f'Basic realm="{realm}"'), ("cache-control", "no-store"))
        extra = {"error": "invalid_client"}
        return answers.problem(
            401, self.title, self.detail(), slug=self.slug, headers=headers, **extra
        )


class InsufficientScope(TokenwardError):
    """The credential is valid but lacks ``scope``."""

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope

    def answer(self, realm: str = REALM) -> Answer:
        return answers.insufficient_scope(self.scope, realm)


class RateLimited(TokenwardError):
    """Too many failures from one source; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, detail: str = "Wait before trying again.") -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after
        self._detail = detail

    def detail(self) -> str:
        return self._detail

    def answer(self, realm: str = REALM) -> Answer:
        return answers.too_many(self.retry_after, self.detail())


class StoreUnavailable(TokenwardError):
    """The store cannot be reached: callers must fail closed (503), never fall back to allow."""

    def answer(self, realm: str = REALM) -> Answer:
        return answers.unavailable()
