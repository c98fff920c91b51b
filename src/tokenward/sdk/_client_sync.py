"""``Client``: the blocking management client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from tokenward.sdk import _client_calls as calls
from tokenward.sdk._client_calls import Call, Page, answer
from tokenward.sdk._models import (
    AuditEvent,
    CreatedToken,
    CreatedWebhook,
    Deactivation,
    Introspection,
    LifetimePolicy,
    Policy,
    Revocation,
    RotatedToken,
    SelfInfo,
    TokenInfo,
    User,
    Webhook,
    WebhookDelivery,
)

__all__ = ["Client"]

T = TypeVar("T")


class Client:
    """A blocking client of the tokenward API, acting with one user token or admin key.

    Without a token (``token=None``) only what anyone may call works: ``report_leaks`` and
    ``policy``; the rest raises :class:`InvalidTokenError`. An empty token is refused at once
    (``ValueError``): it is likelier a setting left blank than a wish to go anonymous."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._http = httpx.Client(**calls.options(base_url, token, timeout, transport))

    def __repr__(self) -> str:
        return calls.describe(self, self.base_url)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _run(self, call: Call[T]) -> T:
        try:
            response = self._http.send(calls.request(self._http, call))
        except httpx.TransportError as error:
            failure = calls.unreachable(error)
        else:
            return answer(call, response)
        raise failure  # outside the handler, so the transport's exception is not its context

    def _each(self, call: Call[Page[T]]) -> Iterator[T]:
        while True:
            page = self._run(call)
            yield from page.items
            if page.next is None:
                return
            call = call.following(page.next)

    def self(self) -> SelfInfo:
        """The presented token's own metadata (``GET /v1/self``)."""
        return self._run(calls.whoami())

    def policy(self) -> Policy:
        """The public lifetime policy, revocation bound and user scopes (``GET /v1/policy``)."""
        return self._run(calls.policy())

    def create_token(
        self,
        label: str,
        *,
        expires_in_days: int | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        scopes: Iterable[str] = (),
    ) -> CreatedToken:
        """Create a token for the caller; its secret is in ``.token`` of the answer, only there."""
        return self._run(
            calls.create_token(label, expires_in_days, expires_at, never_expires, scopes)
        )

    def list_tokens(self, status: str | None = None, limit: int = 50) -> Iterator[TokenInfo]:
        """Every token of the caller, newest first, fetched ``limit`` a page while iterating."""
        return self._each(calls.list_tokens(status, limit))

    def get_token(self, token_id: str) -> TokenInfo:
        """One of the caller's tokens; another user's raises :class:`NotFoundError`."""
        return self._run(calls.get_token(token_id))

    def revoke_token(self, token_id: str, *, wait: bool = False) -> Revocation:
        """Revoke one of the caller's tokens (idempotent); ``wait``: until every node applied it."""
        return self._run(calls.revoke_token(token_id, wait))

    def rotate_token(self, token_id: str, *, grace_seconds: int = 0) -> RotatedToken:
        """Replace a token; the old one works ``grace_seconds`` past the new one's first use."""
        return self._run(calls.rotate_token(token_id, grace_seconds))

    def introspect(self, token: str) -> Introspection:
        """RFC 7662 introspection of ``token``; the caller needs scope ``introspect``."""
        return self._run(calls.introspect(token))

    def revoke(self, token: str) -> None:
        """RFC 7009 revocation of ``token``: holding it is enough; an unknown one is no error."""
        self._run(calls.revoke(token))

    def report_leaks(self, tokens: Sequence[str], source: str) -> int:
        """Report strings found in public: valid tokens among them are revoked (anyone may)."""
        return self._run(calls.report_leaks(tokens, source))

    def create_user(
        self, username: str, password: str, is_admin: bool = False, email: str | None = None
    ) -> User:
        """Create an account (admin); ``email`` receives its notices."""
        return self._run(calls.create_user(username, password, is_admin, email))

    def list_users(self) -> Iterator[User]:
        """Every account, with its status and count of active tokens (admin)."""
        return self._each(calls.list_users())

    def deactivate_user(self, user_id: str, *, wait: bool = False) -> Deactivation:
        """Deactivate an account: its tokens and sessions stop within the bound (admin)."""
        return self._run(calls.deactivate_user(user_id, wait))

    def reactivate_user(self, user_id: str) -> User:
        """Let an account log in again; its revoked tokens stay revoked (admin)."""
        return self._run(calls.reactivate_user(user_id))

    def list_all_tokens(
        self,
        user: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> Iterator[TokenInfo]:
        """Every token of the org, newest first; ``user`` is an id or a username (admin)."""
        return self._each(calls.list_all_tokens(user, status, kind, limit))

    def revoke_any_token(self, token_id: str, *, wait: bool = False) -> Revocation:
        """Revoke anyone's token (admin)."""
        return self._run(calls.revoke_any_token(token_id, wait))

    def create_admin_key(
        self,
        label: str,
        *,
        expires_in_days: int | None = None,
        scopes: Iterable[str] = calls.ADMIN_SCOPES,
    ) -> CreatedToken:
        """Create an admin API key owned by the caller; 7 days unless asked (admin)."""
        return self._run(calls.create_admin_key(label, expires_in_days, scopes))

    def list_admin_keys(self, status: str | None = None, limit: int = 50) -> Iterator[TokenInfo]:
        """Every admin API key of the org, newest first (admin)."""
        return self._each(calls.list_admin_keys(status, limit))

    def revoke_admin_key(self, key_id: str, *, wait: bool = False) -> Revocation:
        """Revoke an admin API key (admin)."""
        return self._run(calls.revoke_admin_key(key_id, wait))

    def get_policy(self) -> LifetimePolicy:
        """The lifetime policy in force (admin)."""
        return self._run(calls.get_policy())

    def put_policy(self, document: LifetimePolicy | Mapping[str, Any]) -> LifetimePolicy:
        """Replace the lifetime policy; a bad field raises :class:`ValidationError` (admin)."""
        return self._run(calls.put_policy(document))

    def create_webhook(self, url: str, events: Iterable[str]) -> CreatedWebhook:
        """Add an endpoint for ``events``; its signing ``secret`` is in this answer only (admin)."""
        return self._run(calls.create_webhook(url, events))

    def list_webhooks(self) -> Iterator[Webhook]:
        """Every webhook endpoint, never its secret (admin)."""
        return self._each(calls.list_webhooks())

    def delete_webhook(self, webhook_id: str) -> None:
        """Remove an endpoint: it receives nothing more (admin)."""
        self._run(calls.delete_webhook(webhook_id))

    def webhook_deliveries(self, webhook_id: str, limit: int = 100) -> Iterator[WebhookDelivery]:
        """The endpoint's delivery log, newest event first, at most ``limit`` entries (admin)."""
        return self._each(calls.webhook_deliveries(webhook_id, limit))

    def audit(
        self,
        after: int = 0,
        type: str | None = None,
        subject: str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> Iterator[AuditEvent]:
        """The audit log after seq ``after``, oldest first, ``limit`` a page (admin)."""
        return self._each(calls.audit(after, type, subject, actor, limit))
