"""The same guarantees for WSGI apps (Flask): ``401`` for every invalid credential, ``503`` when
validity cannot be proven, the caller in ``environ["tokenward.caller"]``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from tokenward.domain.answers import Answer
from tokenward.domain.credentials import presented_token
from tokenward.domain.discovery import ProtectedResource
from tokenward.domain.errors import TokenwardError
from tokenward.sdk.middleware import CALLER, Discovery, may_carry_token
from tokenward.sdk.verifier import Remembered, RemoteVerifier

__all__ = ["CALLER", "TokenwardWSGIMiddleware"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class TokenwardWSGIMiddleware:
    """Wraps a WSGI app: the caller (or ``None``) in ``environ``, refusals answered here;
    ``metadata`` as for :class:`~tokenward.sdk.TokenwardMiddleware` (RFC 9728)."""

    def __init__(
        self,
        app: WSGIApp,
        verifier: RemoteVerifier,
        realm: str = "api",
        metadata: ProtectedResource | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.realm = realm
        self.metadata = Discovery(metadata)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.metadata.path is not None and environ.get("PATH_INFO") == self.metadata.path:
            return _answer(start_response, self.metadata.answer(environ["REQUEST_METHOD"]))
        value = environ.get("HTTP_AUTHORIZATION")
        query = environ.get("QUERY_STRING", "").encode("latin-1")
        if not may_carry_token(query):
            if value is None:  # anonymous: passes through untouched, as in the ASGI middleware
                environ[CALLER] = None
                return self.app(environ, start_response)
            # The hot path: a header value verified before, still vouched for by the cache.
            remembered = self.verifier.recall(value.encode("latin-1"))
            if remembered is not None:
                return self._serve(environ, start_response, remembered)
        return self._check(environ, start_response, query)

    def _check(
        self, environ: dict[str, Any], start_response: StartResponse, query: bytes
    ) -> Iterable[bytes]:
        """Every request the hot path does not settle (see the ASGI middleware)."""
        environ[CALLER] = None
        headers = [
            (key[5:].lower().replace("_", "-").encode("latin-1"), value.encode("latin-1"))
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        try:
            token = presented_token(headers, query)
            caller = None if token is None else self.verifier.verify(token)
        except TokenwardError as refusal:
            return _answer(start_response, self.metadata.refusal(refusal.answer(self.realm)))
        if token is None or caller is None:  # anonymous
            return self.app(environ, start_response)
        authorization = environ["HTTP_AUTHORIZATION"].encode("latin-1")
        remembered = self.verifier.remember(authorization, token, caller)
        return self._serve(environ, start_response, remembered)

    def _serve(
        self, environ: dict[str, Any], start_response: StartResponse, remembered: Remembered
    ) -> Iterable[bytes]:
        environ[CALLER] = remembered.caller
        header = ("Tokenward-Token-Expires", remembered.header_text)

        def starting(status: str, response_headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(status, [*response_headers, header], *rest)

        return self.app(environ, starting)


def _answer(start_response: StartResponse, answer: Answer) -> list[bytes]:
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", list(answer.headers))
    return [answer.body]
