"""Per-request limits as ASGI middleware: the body size (checked on Content-Length and while
streaming) and the time each query made for the request may run (``cim.store.timeout``)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cim.store.timeout import statement_timeout


class NullBytePathMiddleware:
    """A path with a null byte (``%00``) names nothing: no layer, feature or file can hold one. It is
    answered 404 here, before it can reach a file system or a SQL string literal."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\x00" in scope.get("path", ""):
            body = json.dumps({"type": "about:blank", "title": "Not Found", "status": 404,
                               "detail": "no such resource: a path cannot hold a null byte"}).encode()
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/problem+json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


class PrivateCachingMiddleware:
    """What a response holds may depend on the caller's key (hidden layers, coarse views, counts), so
    every response varies on ``X-API-Key``, and one that states no caching of its own is
    ``Cache-Control: private`` — a shared cache never hands one role's answer to another."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _private(list(message.get("headers") or []))
            await send(message)

        await self.app(scope, receive, send_private)


def _private(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {k.lower() for k, _ in headers}
    if b"cache-control" not in names:
        headers.append((b"cache-control", b"private"))
    vary = [(k, v) for k, v in headers if k.lower() == b"vary"]
    if not vary:
        headers.append((b"vary", b"X-API-Key"))
    elif not any(b"x-api-key" in v.lower() or v.strip() == b"*" for _, v in vary):
        k, v = vary[0]
        headers[headers.index((k, v))] = (k, v + b", X-API-Key")
    return headers


class QueryTimeoutMiddleware:
    """Every query run for an HTTP request stops after ``seconds`` (503 with Retry-After, see
    ``tiles/errors.py``); the limit follows the request into the worker thread that answers it."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.seconds:
            await self.app(scope, receive, send)
            return
        with statement_timeout(self.seconds):
            await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Answers 413 (problem+json) when a request body exceeds ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, send)
            return
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            await self._buffered(scope, receive, send)  # chunked: read it all first, answer 413 past the limit
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, send)

    async def _buffered(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body of unknown length (chunked) is read here, up to the limit, then handed on whole —
        so going over answers 413 rather than a body-parsing error from inside the app."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._reject(scope, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        body = json.dumps({"type": "about:blank", "title": "Content Too Large", "status": 413,
                           "detail": f"request body above {self.max_bytes} bytes; send less or in parts",
                           "instance": scope.get("path")}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
