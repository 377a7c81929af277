"""The page's endpoints answer the page only. The sandbox listens on loopback, but any web
site the developer has open could otherwise POST to it (a form or a `fetch` with a "simple"
content type needs no CORS preflight) and click the workspace's buttons or send the app
files. Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`); requests from
another site are refused. Uploads must also say their length, so the size limit holds before
anything is read.

A web page can also reach the sandbox under its own name, by pointing that name at 127.0.0.1
(DNS rebinding): the browser then counts the sandbox as that site, and `Origin` matches `Host`.
So every request must name the sandbox by a loopback name: `localhost`, `127.0.0.1` or `[::1]`,
with or without a port."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

GUARDED = ("/_sandbox/ui/", "/customer/")
UPLOAD = "/_sandbox/ui/upload"
LOOPBACK_HOST = re.compile(r"(?:localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?", re.IGNORECASE)


def loopback_host(host: str | None) -> bool:
    """True when a `Host` header names this machine by a loopback name (port optional)."""
    return host is not None and LOOPBACK_HOST.fullmatch(host.strip()) is not None


class LoopbackHostOnly:
    """ASGI middleware answering only requests whose `Host` is a loopback name; others get a
    400 (HTTP) or a policy-violation close (WebSocket) before any route sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not loopback_host(
            Headers(scope=scope).get("host")
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "bad host"})
                return
            refusal = JSONResponse(
                {
                    "ok": False,
                    "error": "bad_host",
                    "detail": "the sandbox answers to localhost, 127.0.0.1 or [::1] only",
                },
                status_code=400,
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def cross_site(headers: Headers) -> bool:
    """True when the browser says the request comes from another site."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = headers.get("origin")
    if origin is None:
        return False  # not a browser, or a same-origin GET-like request
    return origin == "null" or urlsplit(origin).netloc != headers.get("host")


class SameOriginPosts:
    """ASGI middleware refusing cross-site POSTs to the page's endpoints, and uploads without
    a Content-Length."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = str(scope["path"])
            headers = Headers(scope=scope)
            refusal = None
            if path.startswith(GUARDED) and cross_site(headers):
                refusal = JSONResponse(
                    {"ok": False, "error": "cross_site_request", "detail": "use the sandbox page"},
                    status_code=403,
                )
            elif path == UPLOAD and "content-length" not in headers:
                refusal = JSONResponse(
                    {"ok": False, "error": "length_required", "detail": "send Content-Length"},
                    status_code=411,
                )
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
