"""``/v1/admin/webhooks``: endpoints that receive signed events, and their delivery logs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, StrictStr
from starlette.responses import JSONResponse, Response

from tokenward.domain.errors import NotFound
from tokenward.http import views
from tokenward.http.admin import Admin, admin_caller
from tokenward.http.dependencies import actor_of, runtime
from tokenward.runtime import Runtime
from tokenward.service.webhooks import WebhookService
from tokenward.store.base import DeliveryRecord, WebhookRecord

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/admin/webhooks", tags=["admin"], dependencies=[Depends(admin_caller)]
)
_NO_STORE = {"Cache-Control": "no-store"}


class NewWebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: StrictStr
    events: list[StrictStr]


def service(request: Request) -> WebhookService:
    """The runtime's webhook service; a store without notifications has no webhooks."""
    rt: Runtime = runtime(request)
    if rt.notify is None:
        raise NotFound("webhooks need an SQL store")
    return rt.notify.webhooks


Hooks = Annotated[WebhookService, Depends(service)]


def _view(hook: WebhookRecord) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "created_at": views.rfc3339(hook.created_at),
        "created_by": hook.created_by,
    }


def _time(moment: Any) -> str | None:
    return None if moment is None else views.rfc3339(moment)


def _delivery_view(delivery: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_seq": delivery.event_seq,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_code,
        "last_error": delivery.last_error,
        "next_attempt_at": _time(
            delivery.next_attempt_at if delivery.status == "pending" else None
        ),
        "created_at": views.rfc3339(delivery.created_at),
        "delivered_at": _time(delivery.delivered_at),
    }


@router.post("", status_code=201)
def create_webhook(body: NewWebhookBody, request: Request, caller: Admin, hooks: Hooks) -> Response:
    """Add an endpoint. ``secret`` signs every delivery: it is shown here only (store it in
    the receiver; tokenward keeps it too, as it must sign with it)."""
    created = hooks.create(body.url, body.events, actor_of(caller.actor, request))
    view = _view(created.record) | {"secret": created.secret}
    return JSONResponse(view, status_code=201, headers=_NO_STORE)


@router.get("")
def list_webhooks(hooks: Hooks) -> dict[str, Any]:
    """Every endpoint, never its secret."""
    return {"items": [_view(hook) for hook in hooks.endpoints()]}


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, request: Request, caller: Admin, hooks: Hooks) -> Response:
    hooks.delete(webhook_id, actor_of(caller.actor, request))
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
def deliveries(
    webhook_id: str, hooks: Hooks, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> dict[str, Any]:
    """The delivery log, newest event first: attempts, status, last answer, next attempt."""
    return {"items": [_delivery_view(d) for d in hooks.deliveries(webhook_id, limit)]}
