"""The customer's pages at `PUBLIC_URL/c/<token>`: an offer to accept or decline, or a survey
to rate, each answered by a form that posts back under the same link.

Opening a page changes nothing (mail scanners open links); only a POST answers, and only once.
A link that is not ours gets one page saying so, never which part was wrong. Every response
carries headers that let the page load nothing but its own inline style and keep it out of
frames, caches, search engines and other sites' referrers; the token is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Literal
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.http import Refused, read_capped, refusal_line
from disputes.customer_answers import AnswerRefused, CustomerAnswers, LinkPage
from disputes.errors import DisputeError
from disputes.links import BadLink

log = logging.getLogger(__name__)

# A decline reason and a comment are at most 2,000 characters: 16 KiB holds either, encoded.
MAX_FORM_BODY = 16 * 1024
MAX_FORM_FIELDS = 8
FORM_TYPE = "application/x-www-form-urlencoded"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
# The pages that are not a link's own: (title, sentence).
PROBLEMS = {
    404: (
        "This link is not valid",
        "This link is not valid. If you copied it from an email, check it is complete.",
    ),
    405: ("This page cannot be used that way", "Open the link in our email to see your page."),
    413: ("Your answer is too long", "Please go back, shorten it and send it again."),
    415: ("Your answer could not be read", "Please go back and send the form on the page again."),
    400: ("Your answer could not be read", "Please go back and send the form on the page again."),
    500: (
        "Something went wrong on our side",
        "Please try again in a few minutes. If it keeps happening, reply to our email.",
    ),
}

AnswerKind = Literal["accepted", "declined", "rated"]
Handler = Callable[[Request], Awaitable[Response]]
Act = Callable[[str, dict[str, str]], Awaitable[LinkPage]]

PAGES = Environment(
    loader=PackageLoader("bot", "pages"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def customer_page_routes(answers: CustomerAnswers) -> list[Route]:
    """GET /c/{token} shows the page; POST to its accept, decline and rate paths answers."""
    pages = CustomerPages(answers)
    return [
        Route("/c/{token}", _Endpoint(pages.show, ("GET", "HEAD"))),
        Route("/c/{token}/accept", _Endpoint(pages.accept, ("POST",))),
        Route("/c/{token}/decline", _Endpoint(pages.decline, ("POST",))),
        Route("/c/{token}/rate", _Endpoint(pages.rate, ("POST",))),
    ]


class CustomerPages:
    def __init__(self, answers: CustomerAnswers) -> None:
        self.answers = answers

    async def show(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            page = await self.answers.page(token)
        except BadLink:
            log.info("a customer link that is not valid was opened")
            return problem(404)
        return link_page(page, token)

    async def accept(self, request: Request) -> Response:
        return await self._answer(
            request, "accepted", lambda token, _form: self.answers.accept(token)
        )

    async def decline(self, request: Request) -> Response:
        async def act(token: str, form: dict[str, str]) -> LinkPage:
            return await self.answers.decline(token, form.get("reason", ""))

        return await self._answer(request, "declined", act)

    async def rate(self, request: Request) -> Response:
        async def act(token: str, form: dict[str, str]) -> LinkPage:
            rating = _whole_number(form.get("rating", ""))
            return await self.answers.rate(token, rating, form.get("comment", ""))

        return await self._answer(request, "rated", act)

    async def _answer(self, request: Request, kind: AnswerKind, act: Act) -> Response:
        token = request.path_params["token"]
        try:
            form = await read_form(request)
        except Refused as refused:
            refusal_line("a customer's answer", refused)
            return problem(refused.status)
        try:
            page = await act(token, form)
        except BadLink:
            log.info("a customer link that is not valid was answered")
            return problem(404)
        except AnswerRefused as refused:
            log.info(
                "customer's answer to %s not taken: the %s is %s",
                refused.page.dispute_ref,
                refused.page.kind,
                refused.page.status,
            )
            return link_page(refused.page, token, 409, refused=True)
        except DisputeError as error:
            return await self._not_taken(token, kind, form, error)
        log.info("%s", _answer_line(kind, page))
        return render("answered.html", 200, kind=kind, page=page)

    async def _not_taken(
        self, token: str, kind: AnswerKind, form: dict[str, str], error: DisputeError
    ) -> Response:
        """A rating that is not 1 to 5 gets the form again (400); an offer that could not be
        carried out stays as it was, and the customer is asked to write to the team (409)."""
        try:
            page = await self.answers.page(token)
        except BadLink:
            return problem(404)
        if not page.answerable:
            return link_page(page, token, 409, refused=True)
        if kind == "rated":
            comment = form.get("comment", "")
            return link_page(page, token, 400, error=str(error), comment=comment)
        log.warning("customer's answer to %s could not be carried out: %s", page.dispute_ref, error)
        return link_page(page, token, 409, failed=True)


class _Endpoint:
    """Reached by every method, so that one it does not take still gets a page with the
    security headers (405) rather than the router's bare answer."""

    def __init__(self, handler: Handler, methods: Collection[str]) -> None:
        self.handler = handler
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in self.methods:
            response = problem(405, headers={"Allow": ", ".join(self.methods)})
        else:
            try:
                response = await self.handler(request)
            except Exception:
                log.exception("a customer page failed")
                response = problem(500)
        await response(scope, receive, send)


async def read_form(request: Request) -> dict[str, str]:
    """The first value of each field of a URL-encoded form, read within MAX_FORM_BODY."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        raise Refused(415, f"not {FORM_TYPE}")
    try:
        body = await read_capped(request, MAX_FORM_BODY)
    except ClientDisconnect:
        raise Refused(400, "the client went away") from None
    try:
        fields = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the form cannot be read") from None
    return {name: values[0] for name, values in fields.items()}


def link_page(
    page: LinkPage,
    token: str,
    status: int = 200,
    *,
    refused: bool = False,
    failed: bool = False,
    error: str | None = None,
    comment: str = "",
) -> Response:
    """An offer's or a survey's page as it stands; `refused` says an answer came too late,
    `failed` that it could not be carried out, `error` what was wrong with a rating."""
    template = "offer.html" if page.kind == "offer" else "csat.html"
    return render(
        template,
        status,
        page=page,
        token=token,
        refused=refused,
        failed=failed,
        error=error,
        comment=comment,
    )


def problem(status: int, headers: dict[str, str] | None = None) -> Response:
    title, text = PROBLEMS[status]
    extra = dict(headers or {})
    if status == 413:
        extra["Connection"] = "close"  # the rest of the body may still be on its way
    return render("problem.html", status, headers=extra, title=title, text=text)


def render(
    template: str, status: int, *, headers: dict[str, str] | None = None, **context: Any
) -> Response:
    html = PAGES.get_template(template).render(**context)
    return HTMLResponse(html, status, headers={**SECURITY_HEADERS, **(headers or {})})


def _whole_number(raw: str) -> int:
    """The rating's digits as a number; anything else is 0, which no rating is."""
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else 0


def _answer_line(kind: AnswerKind, page: LinkPage) -> str:
    if kind == "rated":
        return f"customer rated {page.dispute_ref} {page.rating} out of 5"
    return f"customer {kind} the offer of {page.dispute_ref}"
