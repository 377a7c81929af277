"""The checks a request passes before anything acts on it: Slack's signature, the shape of a
signed body, where responses and the bot token may go, /healthz, and Bolt's log lines."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlencode

import httpx
import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers

from bot.app import WithoutRequestBodies, bolt_logger
from bot.http import (
    Refused,
    SlackShape,
    check_signature,
    create_http_app,
    response_url_allowed,
    slack_body,
)
from disputes.customer import InvalidReply, check_reply
from handlers.files import FileShareError, download, file_draft, share_files, token_may_go_to

SECRET = "unit-test-signing-secret"
SANDBOX_API = "http://127.0.0.1:4390/api/"
SANDBOX_HOOK = "http://127.0.0.1:4390/_sandbox/response/abc"
FORM = "application/x-www-form-urlencoded"


def signed(body: bytes, *, timestamp: str | None = None, secret: str = SECRET) -> Headers:
    stamp = timestamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return Headers(
        {
            "content-type": FORM,
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": "v0=" + digest.hexdigest(),
        }
    )


def refused(call: object, *args: object) -> int:
    with pytest.raises(Refused) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.status


# -- signatures -----------------------------------------------------------------------------


def test_a_body_signed_as_slack_signs_passes_and_anything_else_is_401() -> None:
    body = b"command=%2Fdispute&text=help"
    check_signature(SECRET, body, signed(body))
    verifier = SignatureVerifier(SECRET)
    stamp = str(int(time.time()))
    check_signature(
        SECRET,
        body,
        Headers(
            {
                "x-slack-request-timestamp": stamp,
                "x-slack-signature": verifier.generate_signature(timestamp=stamp, body=body),
            }
        ),
    )
    assert refused(check_signature, SECRET, body, signed(body, secret="other")) == 401
    assert refused(check_signature, SECRET, body + b"x", signed(body)) == 401
    stale = signed(body, timestamp=str(int(time.time()) - 301))
    assert refused(check_signature, SECRET, body, stale) == 401
    assert refused(check_signature, SECRET, body, Headers({})) == 401
    non_ascii = Headers({"x-slack-request-timestamp": stamp, "x-slack-signature": "v0=é"})
    assert refused(check_signature, SECRET, body, non_ascii) == 401


@pytest.mark.parametrize("stamp", ["soon", "1²3", "1_000", "+123", "-5", "9" * 40])
def test_a_timestamp_that_is_not_plain_digits_is_400(stamp: str) -> None:
    body = b"command=%2Fdispute"
    assert refused(check_signature, SECRET, body, signed(body, timestamp=stamp)) == 400


def test_a_signed_body_that_is_not_utf8_passes_the_signature_and_is_refused_as_400() -> None:
    body = b"payload=\xff\xfe"
    headers = signed(body)
    check_signature(SECRET, body, headers)
    assert refused(slack_body, body, headers) == 400


# -- the shape of a signed body --------------------------------------------------------------


def command(**fields: str) -> dict[str, str]:
    return {
        "command": "/dispute",
        "text": "help",
        "user_id": "U1",
        "channel_id": "C1",
        "team_id": "T1",
        "trigger_id": "1.2",
        "response_url": "https://hooks.slack.com/commands/T1/1/x",
        "is_enterprise_install": "false",
        **fields,
    }


def block_actions(**fields: object) -> dict[str, object]:
    return {
        "type": "block_actions",
        "user": {"id": "U1", "team_id": "T1"},
        "team": {"id": "T1", "domain": "d"},
        "enterprise": None,
        "trigger_id": "1.2",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C1"},
        "channel": {"id": "C1", "name": "disputes"},
        "message": {"type": "message", "ts": "1.1", "text": "hi", "user": "U0BOT"},
        "state": {"values": {}},
        "response_url": SANDBOX_HOOK,
        "actions": [
            {
                "action_id": "review.start",
                "block_id": "b",
                "type": "button",
                "value": '{"dispute":1}',
                "text": {"type": "plain_text", "text": "Start review"},
            }
        ],
        **fields,
    }


def view_submission(**view: object) -> dict[str, object]:
    return {
        "type": "view_submission",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "trigger_id": "1.2",
        "response_urls": [],
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "evidence.modal",
            "private_metadata": '{"dispute":1}',
            "title": {"type": "plain_text", "text": "Add evidence"},
            "state": {
                "values": {
                    "note": {"note": {"type": "plain_text_input", "value": "photos"}},
                    "kind": {"kind": {"selected_option": {"value": "ATTACHMENT"}}},
                    "file": {"file": {"type": "file_input", "files": [{"id": "F1"}]}},
                }
            },
            **view,
        },
    }


def event(**fields: object) -> dict[str, object]:
    return {
        "type": "event_callback",
        "event_id": "Ev1",
        "team_id": "T1",
        "authorizations": [{"team_id": "T1", "user_id": "U0BOT", "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event": {
            "type": "message",
            "subtype": "file_share",
            "channel": "C1",
            "user": "U1",
            "thread_ts": "1.1",
            "files": [{"id": "F1", "name": "lid.jpg"}],
            **fields,
        },
    }


def as_form(payload: dict[str, object]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def admit(body: bytes, content_type: str = FORM) -> dict[str, object]:
    _, parsed = slack_body(body, Headers({"content-type": content_type}))
    SlackShape(SANDBOX_API).check(parsed)
    return parsed


@pytest.mark.parametrize(
    "body",
    [
        urlencode(command()).encode(),
        urlencode(command(response_url=SANDBOX_HOOK, text="open ORD-1 & <b>")).encode(),
        as_form(block_actions()),
        as_form(view_submission()),
        as_form({**view_submission(), "type": "view_closed"}),
        json.dumps(event()).encode(),
        json.dumps({"type": "url_verification", "challenge": "abc", "token": "t"}).encode(),
        json.dumps(
            {
                "type": "event_callback",
                "event_id": "Ev2",
                "event": {"type": "app_home_opened", "user": "U1", "tab": "home"},
            }
        ).encode(),
        b"ssl_check=1&token=abc",
    ],
)
def test_what_slack_sends_is_admitted(body: bytes) -> None:
    content_type = "application/json" if body.startswith(b"{") else FORM
    admit(body, content_type)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "no command and no type"),
        (b"payload={bad", "neither JSON nor a form"),
        (b"payload=[1,2]", "not a JSON object"),
        (b"%ZZ", "no command and no type"),
        (urlencode({"payload": '"text"'}).encode(), "not a JSON object"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "neither JSON nor a form"),
        (urlencode({k: v for k, v in command().items() if k != "user_id"}).encode(), "user_id"),
        (urlencode({k: v for k, v in command().items() if k != "response_url"}).encode(), "resp"),
        (as_form({**block_actions(), "actions": []}), "without actions"),
        (as_form({k: v for k, v in block_actions().items() if k != "actions"}), "actions"),
        (as_form({**block_actions(), "user": "U1"}), "user.id"),
        (as_form({**block_actions(), "user": {"id": 7}}), "user"),
        (as_form({**block_actions(), "actions": ["x"]}), "list of objects"),
        (as_form({**block_actions(), "actions": [{"value": "1"}]}), "action_id"),
        (as_form({**block_actions(), "actions": [{"action_id": "x", "value": 1}]}), "value"),
        (as_form({**block_actions(), "trigger_id": None}), "trigger_id"),
        (as_form({**block_actions(), "team": ["T1"]}), "team"),
        (as_form({**block_actions(), "authorizations": {"team_id": "T"}}), "authorizations"),
        (as_form({**block_actions(), "message": "hi"}), "message"),
        (as_form({**block_actions(), "response_urls": "x"}), "response_urls"),
        (
            as_form(block_actions(actions=[{"action_id": "proposal.approve", "value": "{}"}])),
            "not written by this app",
        ),
        (
            as_form(
                block_actions(
                    actions=[{"action_id": "refund.retry", "value": '{"dispute":1,"x":2}'}]
                )
            ),
            "not written by this app",
        ),
        (
            as_form(
                block_actions(
                    actions=[{"action_id": "policy.why", "value": '{"dispute":4294967296}'}]
                )
            ),
            "not written by this app",
        ),
        (as_form(view_submission(private_metadata="{}")), "not written by this app"),
        (as_form(view_submission(private_metadata=None)), "not written by this app"),
        (as_form(view_submission(type="workflow_step")), "workflow steps"),
        (as_form(view_submission(callback_id=None)), "callback_id"),
        (as_form(view_submission(state={"values": {"note": "x"}})), "element states"),
        (as_form(view_submission(state={"values": {"n": {"n": {"value": 5}}}})), "value"),
        (as_form(view_submission(state={"values": {"n": {"n": {"files": "F"}}}})), "files"),
        (as_form({**view_submission(), "view": "V1"}), "view"),
        (as_form({**view_submission(), "response_urls": [{"response_url": "x"}]}), "resp"),
        (json.dumps({**event(), "event": "message"}).encode(), "event"),
        (json.dumps({**event(), "event": {"channel": "C1"}}).encode(), "event"),
        (json.dumps({k: v for k, v in event().items() if k != "event_id"}).encode(), "event_id"),
        (json.dumps(event(files="F1")).encode(), "files"),
        (json.dumps(event(files=["F1"])).encode(), "files"),
        (json.dumps(event(thread_ts=1.5)).encode(), "thread_ts"),
        (json.dumps(event(message=[1])).encode(), "message"),
        (json.dumps({"type": "url_verification"}).encode(), "challenge"),
        (json.dumps({"type": 5}).encode(), "type"),
        (json.dumps({"type": "shortcut", "callback_id": "x"}).encode(), "user.id"),
    ],
)
def test_a_malformed_signed_body_is_refused_naming_what_is_wrong(body: bytes, says: str) -> None:
    content_type = "application/json" if body.startswith(b"{") else FORM
    with pytest.raises(Refused) as caught:
        admit(body, content_type)
    assert caught.value.status == 400
    assert says in caught.value.reason


def test_bolt_reads_a_body_as_json_by_its_content_type_and_so_does_the_check() -> None:
    body = b'payload={"type":"block_actions"}'
    with pytest.raises(Refused, match="neither JSON"):
        admit(body, "application/json")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/commands/T1/1/x", True),
        ("https://hooks.slack.com:443/actions/T1/1/x", True),
        ("https://HOOKS.SLACK.COM/commands/x", True),
        (SANDBOX_HOOK, True),
        ("http://hooks.slack.com/commands/x", False),
        ("https://hooks.slack.com:8443/commands/x", False),
        ("https://hooks.slack.com.attacker.example/x", False),
        ("https://hooks.slack.com@attacker.example/x", False),
        ("https://attacker.example\\@hooks.slack.com/x", False),
        ("https://attacker.example/https://hooks.slack.com/", False),
        ("http://127.0.0.1:4391/_sandbox/response/x", False),
        ("https://slack.com/api/", False),
        ("//hooks.slack.com/x", False),
        ("https://hooks.slack.com/x\n", False),
        ("", False),
        (None, False),
        (["https://hooks.slack.com/x"], False),
    ],
)
def test_responses_go_only_to_slacks_hooks_or_the_configured_api_host(
    url: object, allowed: bool
) -> None:
    assert response_url_allowed(url, SANDBOX_API) is allowed


# -- the bot token and file objects ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/lid.jpg", True),
        ("https://files.slack.com:443/files-pri/T1-F1/lid.jpg", True),
        ("http://127.0.0.1:4390/files-pri/T1-F1/lid.jpg", True),
        ("http://files.slack.com/files-pri/T1-F1/lid.jpg", False),
        ("https://files.slack.com.attacker.example/f", False),
        ("https://files.slack.com@attacker.example/f", False),
        ("https://user:pw@files.slack.com/f", False),
        ("https://attacker.example/files.slack.com/f", False),
        ("http://127.0.0.1:4391/files-pri/T1-F1/lid.jpg", False),
        ("https://127.0.0.1:4390/files-pri/T1-F1/lid.jpg", False),
        ("http://localhost:4390/files-pri/T1-F1/lid.jpg", False),
        ("file:///etc/passwd", False),
        ("not a url", False),
    ],
)
def test_the_bot_token_goes_only_to_slacks_file_host(url: str, allowed: bool) -> None:
    assert token_may_go_to(url, SANDBOX_API) is allowed


async def test_a_file_elsewhere_is_not_fetched_and_one_line_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetched: list[httpx.Request] = []

    def anywhere(request: httpx.Request) -> httpx.Response:
        fetched.append(request)
        return httpx.Response(200, content=b"x", headers={"Content-Type": "image/png"})

    file = {
        "id": "F1",
        "name": "lid.png",
        "mimetype": "image/png",
        "url_private_download": "https://collector.example/steal?f=lid.png",
    }
    async with httpx.AsyncClient(transport=httpx.MockTransport(anywhere)) as http:
        with (
            caplog.at_level(logging.WARNING, logger="handlers.files"),
            pytest.raises(FileShareError, match="not on Slack's file host"),
        ):
            await download(http, "xoxb-secret", file, api_url=SANDBOX_API)
        slack_file = {**file, "url_private_download": "https://files.slack.com/f/lid.png"}
        read = await download(http, "xoxb-secret", slack_file)
    assert [str(r.url) for r in fetched] == ["https://files.slack.com/f/lid.png"]
    lines = [r.getMessage() for r in caplog.records if r.name == "handlers.files"]
    assert lines == ["not reading file 'F1' from 'collector.example': not a Slack file host"]
    assert read["filename"] == "lid.png"


async def test_sharing_files_sends_the_token_only_to_the_clients_api_host() -> None:
    client = AsyncWebClient(token="xoxb-secret", base_url=SANDBOX_API)
    elsewhere = {"id": "F1", "name": "a.png", "url_private": "https://collector.example/a.png"}
    with pytest.raises(FileShareError):
        await share_files(client, [elsewhere], channel="C1", thread_ts="1.1", comment="c")


def test_file_names_and_titles_from_slack_are_cleaned() -> None:
    hostile = {
        "id": "F1",
        "name": "invoice\u202egpj.exe\x00\r\nERROR forged",
        "mimetype": "application/pdf",
        "url_private": "https://files.slack.com/f",
    }
    draft = file_draft(hostile, "U1")
    assert draft.payload["name"] == "invoicegpj.exe\nERROR forged"
    assert "\u202e" not in draft.summary and "\x00" not in draft.summary
    titled = file_draft({"id": "F2", "title": "\u200b\u2066Receipt\u2069"}, "U1")
    assert titled.payload["name"] == "Receipt"
    assert file_draft({"id": "F3", "name": "\x00\u200b"}, "U1").payload["name"] == "F3"


# -- customer replies ---------------------------------------------------------------------------


def test_a_customer_reply_is_cleaned_and_only_text_is_taken() -> None:
    reply = check_reply(
        {"dispute": "D-1\u200b", "from": "a@b.example\u202e", "body": "hi\x1b[2J\r\nthere\u2066"}
    )
    assert (reply.dispute, reply.sender, reply.body) == ("D-1", "a@b.example", "hi[2J\nthere")
    for field in ("dispute", "from", "body"):
        raw = {"dispute": "D-1", "from": "a@b.example", "body": "hi", field: ["x"]}
        with pytest.raises(InvalidReply, match=f"^{field}:"):
            check_reply(raw)
    with pytest.raises(InvalidReply, match="body: the reply is empty"):
        check_reply({"dispute": "D-1", "from": "a@b.example", "body": "\u200b\x00 "})


# -- /healthz -----------------------------------------------------------------------------------


def bolt_app() -> AsyncApp:
    client = AsyncWebClient(token="xoxb-unit", base_url=SANDBOX_API)
    return AsyncApp(client=client, signing_secret=SECRET, logger=bolt_logger())


class UnreachableEngine:
    """An engine whose database cannot be reached, as asyncpg says it."""

    def connect(self) -> None:
        reason = OSError(
            'connection to server at "db.internal" (10.0.0.5), port 5432 failed:\n'
            'FATAL:  password authentication failed for user "dispute_desk"'
        )
        raise OperationalError("SELECT 1", {}, reason)


class UnreachableDatabase:
    engine = UnreachableEngine()


async def test_healthz_with_a_broken_database_says_only_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    http = create_http_app(bolt_app(), UnreachableDatabase(), slack_events=False)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=http)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        with caplog.at_level(logging.WARNING, logger="bot.http"):
            answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "database": "unavailable"}
    (line,) = [r.getMessage() for r in caplog.records if r.name == "bot.http"]
    assert line.startswith("health check: database unavailable: OperationalError: ")
    assert "db.internal" in line and "\n" not in line


# -- Bolt's own log lines -----------------------------------------------------------------------


async def test_bolts_lines_never_carry_a_request_body(caplog: pytest.LogCaptureFixture) -> None:
    app = bolt_app()
    payload = block_actions(actions=[{"action_id": "unknown.action", "value": "MARK-SECRET"}])
    body = urlencode({"payload": json.dumps(payload)})
    request = AsyncBoltRequest(body=body, headers={"content-type": FORM})
    with caplog.at_level(logging.DEBUG):
        await app.async_dispatch(request)
    bolt = [r for r in caplog.records if r.name.startswith("slack_bolt")]
    assert all("MARK-SECRET" not in r.getMessage() for r in caplog.records)
    assert all(r.levelno >= logging.WARNING for r in bolt)
    message = "Unhandled request ({'type': 'block_actions', 'value': 'MARK'})\n\nsuggestion"
    record = logging.LogRecord("slack_bolt", logging.WARNING, "", 0, message, (), None)
    WithoutRequestBodies().filter(record)
    assert record.getMessage() == "Unhandled request (request body not logged)"
