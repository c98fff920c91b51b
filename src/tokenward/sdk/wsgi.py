"""The same guarantees for WSGI apps (Flask): ``401`` for every invalid credential, ``503`` when
validity cannot be proven, the caller in ``environ["tokenward.caller"]``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tokenward.domain.bearer import Absent, Malformed, OtherScheme, read_credential
from tokenward.domain.errors import InvalidToken, StoreUnavailable
from tokenward.sdk import _answers
from tokenward.sdk.middleware import CALLER
from tokenward.sdk.verifier import RemoteVerifier

__all__ = ["CALLER", "TokenwardWSGIMiddleware"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class TokenwardWSGIMiddleware:
    def __init__(self, app: WSGIApp, verifier: RemoteVerifier, realm: str = "api") -> None:
        self.app = app
        self.verifier = verifier
        self.realm = realm

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ[CALLER] = None
        headers = [
            (key[5:].lower().replace("_", "-").encode("latin-1"), value.encode("latin-1"))
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        credential = read_credential(headers, environ.get("QUERY_STRING", "").encode("latin-1"))
        if isinstance(credential, Absent):
            return self.app(environ, start_response)
        if isinstance(credential, Malformed):
            return _answer(start_response, _answers.invalid_request(self.realm, credential.reason))
        if isinstance(credential, OtherScheme):
            return _answer(start_response, _answers.missing(self.realm))
        try:
            caller = self.verifier.verify(credential.token)
        except InvalidToken as error:
            return _answer(start_response, _answers.invalid_token(self.realm, error.reason))
        except StoreUnavailable:
            return _answer(start_response, _answers.unavailable())
        environ[CALLER] = caller
        expires = caller.expires_at
        value = "never" if expires is None else expires.strftime("%Y-%m-%dT%H:%M:%SZ")

        def starting(status: str, response_headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(
                status, [*response_headers, ("Tokenward-Token-Expires", value)], *rest
            )

        return self.app(environ, starting)


def _answer(start_response: StartResponse, answer: _answers.Answer) -> list[bytes]:
    status, headers, body = answer
    reasons = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        503: "Service Unavailable",
    }
    start_response(f"{status} {reasons[status]}", headers)
    return [body]
