"""A cap on request bodies in front of every route (the front door asks it first).

Without it a JSON body is read whole before it is validated, so four concurrent 50 MB posts to
an anonymous endpoint cost the node most of a gigabyte. A ``Content-Length`` over the cap is
answered ``413`` before a byte of the body is read; a body without one (chunked) is counted as
it streams and refused the moment it passes the cap. Either way nothing is parsed or hashed,
and the refusal is problem+json like every other one (RFC 9110 section 15.5.14).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward.domain.answers import Answer, problem

__all__ = ["BodyCap", "too_large"]


def too_large(limit: int) -> Answer:
    """413 naming the cap; the connection is closed (the rest of the body is not read)."""
    detail = f"Request bodies are limited to {limit} bytes."
    return problem(413, "Request body too large", detail, slug="body-too-large", headers=_CLOSE)


_CLOSE = (("connection", "close"),)


class BodyCap:
    """Refuses a request body longer than ``limit`` bytes with 413, before ``app`` reads it
    (the front door asks :meth:`has_body` first, and runs :meth:`counted` when there is one)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.answer = too_large(limit)

    async def counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``app`` with the body counted as it streams (a declared length within the cap, or a
        chunked body)."""
        await _Counted(self, receive, send).run(scope)

    def has_body(self, scope: Scope) -> bool | None:
        """None if the declared body is over the cap, else whether there is a body to count."""
        length, chunked = _framing(scope["headers"])
        if length is not None and length > self.limit:
            return None
        return length is not None or chunked


class _Counted:
    """One request whose body is counted as the app reads it."""

    def __init__(self, limit: BodyCap, receive: Receive, send: Send) -> None:
        self.limit = limit
        self.receive = receive
        self.send = send
        self.seen = 0
        self.refused = False
        self.started = False

    async def run(self, scope: Scope) -> None:
        try:
            await self.limit.app(scope, self.counting_receive, self.guarded_send)
        except Exception:
            if not self.refused:
                raise  # the app's own failure
            # Refused: the app saw the client leave and gave up; the 413 has been sent.

    async def counting_receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit.limit:
                self.refused = True
                if not self.started:  # an answer begun cannot become a 413: just stop
                    await self.limit.answer.send(self.send)
                return {"type": "http.disconnect"}
        return message

    def guarded_send(self, message: Message) -> Awaitable[None]:
        if self.refused:
            return _nothing()  # the 413 is the answer; whatever the app says after is dropped
        if message["type"] == "http.response.start":
            self.started = True
        return self.send(message)


async def _nothing() -> None:
    return None


def _framing(headers: Sequence[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """The declared ``Content-Length`` (None if absent or unreadable) and whether the body is
    chunked."""
    length = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    return length, chunked
