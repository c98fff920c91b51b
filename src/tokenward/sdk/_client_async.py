"""``AsyncClient``: the asynchronous twin of ``Client``, with the same methods, awaited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
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

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """The asynchronous twin of :class:`Client`: the same methods, awaited."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._http = httpx.AsyncClient(**calls.options(base_url, token, timeout, transport))

    def __repr__(self) -> str:
        return calls.describe(self, self.base_url)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def _run(self, call: Call[T]) -> T:
        try:
            response = await self._http.send(calls.request(self._http, call))
        except httpx.TransportError as error:
            failure = calls.unreachable(error)
        else:
            return answer(call, response)
        raise failure  # outside the handler, so the transport's exception is not its context

    async def _each(self, call: Call[Page[T]]) -> AsyncIterator[T]:
        while True:
            page = await self._run(call)
            for item in page.items:
                yield item
            if page.next is None:
                return
            call = call.following(page.next)

    async def self(self) -> SelfInfo:
        """The presented token's own metadata (``GET /v1/self``)."""
        return await self._run(calls.whoami())

    async def policy(self) -> Policy:
        """The public lifetime policy, revocation bound and user scopes (``GET /v1/policy``)."""
        return await self._run(calls.policy())

    async def create_token(
        self,
        label: str,
        *,
        expires_in_days: int | None = None,
        expires_at: datetime | None = None,
        never_expires: bool = False,
        scopes: Iterable[str] = (),
    ) -> CreatedToken:
        """Create a token for the caller; its secret is in ``.token`` of the answer, only there."""
        return await self._run(
            calls.create_token(label, expires_in_days, expires_at, never_expires, scopes)
        )

    def list_tokens(self, status: str | None = None, limit: int = 50) -> AsyncIterator[TokenInfo]:
        """Every token of the caller, newest first, fetched ``limit`` a page while iterating."""
        return self._each(calls.list_tokens(status, limit))

    async def get_token(self, token_id: str) -> TokenInfo:
        """One of the caller's tokens; another user's raises :class:`NotFoundError`."""
        return await self._run(calls.get_token(token_id))

    async def revoke_token(self, token_id: str, *, wait: bool = False) -> Revocation:
        """Revoke one of the caller's tokens (idempotent); ``wait``: until every node applied it."""
        return await self._run(calls.revoke_token(token_id, wait))

    async def rotate_token(self, token_id: str, *, grace_seconds: int = 0) -> RotatedToken:
        """Replace a token; the old one works ``grace_seconds`` past the new one's first use."""
        return await self._run(calls.rotate_token(token_id, grace_seconds))

    async def introspect(self, token: str) -> Introspection:
        """RFC 7662 introspection of ``token``; the caller needs scope ``introspect``."""
        return await self._run(calls.introspect(token))

    async def revoke(self, token: str) -> None:
        """RFC 7009 revocation of ``token``: holding it is enough; an unknown one is no error."""
        await self._run(calls.revoke(token))

    async def report_leaks(self, tokens: Sequence[str], source: str) -> int:
        """Report strings found in public: valid tokens among them are revoked (anyone may)."""
        return await self._run(calls.report_leaks(tokens, source))

    async def create_user(
        self, username: str, password: str, is_admin: bool = False, email: str | None = None
    ) -> User:
        """Create an account (admin); ``email`` receives its notices."""
        return await self._run(calls.create_user(username, password, is_admin, email))

    def list_users(self) -> AsyncIterator[User]:
        """Every account, with its status and count of active tokens (admin)."""
        return self._each(calls.list_users())

    async def deactivate_user(self, user_id: str, *, wait: bool = False) -> Deactivation:
        """Deactivate an account: its tokens and sessions stop within the bound (admin)."""
        return await self._run(calls.deactivate_user(user_id, wait))

    async def reactivate_user(self, user_id: str) -> User:
        """Let an account log in again; its revoked tokens stay revoked (admin)."""
        return await self._run(calls.reactivate_user(user_id))

    def list_all_tokens(
        self,
        user: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> AsyncIterator[TokenInfo]:
        """Every token of the org, newest first; ``user`` is an id or a username (admin)."""
        return self._each(calls.list_all_tokens(user, status, kind, limit))

    async def revoke_any_token(self, token_id: str, *, wait: bool = False) -> Revocation:
        """Revoke anyone's token (admin)."""
        return await self._run(calls.revoke_any_token(token_id, wait))

    async def create_admin_key(
        self,
        label: str,
        *,
        expires_in_days: int | None = None,
        scopes: Iterable[str] = calls.ADMIN_SCOPES,
    ) -> CreatedToken:
        """Create an admin API key owned by the caller; 7 days unless asked (admin)."""
        return await self._run(calls.create_admin_key(label, expires_in_days, scopes))

    def list_admin_keys(
        self, status: str | None = None, limit: int = 50
    ) -> AsyncIterator[TokenInfo]:
        """Every admin API key of the org, newest first (admin)."""
        return self._each(calls.list_admin_keys(status, limit))

    async def revoke_admin_key(self, key_id: str, *, wait: bool = False) -> Revocation:
        """Revoke an admin API key (admin)."""
        return await self._run(calls.revoke_admin_key(key_id, wait))

    async def get_policy(self) -> LifetimePolicy:
        """The lifetime policy in force (admin)."""
        return await self._run(calls.get_policy())

    async def put_policy(self, document: LifetimePolicy | Mapping[str, Any]) -> LifetimePolicy:
        """Replace the lifetime policy; a bad field raises :class:`ValidationError` (admin)."""
        return await self._run(calls.put_policy(document))

    async def create_webhook(self, url: str, events: Iterable[str]) -> CreatedWebhook:
        """Add an endpoint for ``events``; its signing ``secret`` is in this answer only (admin)."""
        return await self._run(calls.create_webhook(url, events))

    def list_webhooks(self) -> AsyncIterator[Webhook]:
        """Every webhook endpoint, never its secret (admin)."""
        return self._each(calls.list_webhooks())

    async def delete_webhook(self, webhook_id: str) -> None:
        """Remove an endpoint: it receives nothing more (admin)."""
        await self._run(calls.delete_webhook(webhook_id))

    def webhook_deliveries(
        self, webhook_id: str, limit: int = 100
    ) -> AsyncIterator[WebhookDelivery]:
        """The endpoint's delivery log, newest event first, at most ``limit`` entries (admin)."""
        return self._each(calls.webhook_deliveries(webhook_id, limit))

    def audit(
        self,
        after: int = 0,
        type: str | None = None,
        subject: str | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> AsyncIterator[AuditEvent]:
        """The audit log after seq ``after``, oldest first, ``limit`` a page (admin)."""
        return self._each(calls.audit(after, type, subject, actor, limit))
