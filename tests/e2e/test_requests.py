"""Requests handled safely, against the app as a real process: bodies are capped before they
are read, signatures checked before anything parses them, malformed signed bodies refused
with 400, a signed customer reply filed once however often it arrives, response URLs only to
Slack, /healthz without database details, and a log without bodies or secrets."""

from __future__ import annotations

import hmac
import json
import secrets
import select
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.customers.inbound import signed_headers
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess, app_process

INBOUND_SECRET = "inbound-" + secrets.token_hex(12)
BOT_TOKEN = "xoxb-sandbox"  # the emulator's; app_process gives it to the app
CUSTOMER = "maya.thompson@example.com"  # ORD-1001's customer
FORM = "application/x-www-form-urlencoded"
MiB = 1024 * 1024
# Every marker put in a body this module sends; none may reach the app's log.
SENT_MARKERS: list[str] = []


def marker() -> str:
    mark = f"MARK{secrets.token_hex(6)}"
    SENT_MARKERS.append(mark)
    return mark


@pytest.fixture(scope="module")
def app(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    with app_process(
        tmp_path_factory.mktemp("requests"), emulator.api_url, INBOUND_SECRET=INBOUND_SECRET
    ) as running:
        yield running


# -- sending ---------------------------------------------------------------------------


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature over the raw bytes (any bytes, not only UTF-8)."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, "sha256")
    return "v0=" + digest.hexdigest()


def send_signed(
    app: AppProcess,
    body: bytes,
    content_type: str = FORM,
    *,
    timestamp: str | None = None,
    secret: str | None = None,
) -> httpx.Response:
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(secret or app.secret, stamp, body),
    }
    return httpx.post(app.url + "/slack/events", content=body, headers=headers, timeout=10)


def command_fields(workspace: Workspace, emulator: EmulatorServer, text: str) -> dict[str, str]:
    user = "U0MANAGER1"
    return {
        "command": "/dispute",
        "text": text,
        "user_id": user,
        "channel_id": "C0DISPUTES",
        "team_id": workspace.team_id,
        "trigger_id": workspace.mint_trigger(user),
        "response_url": f"{emulator.base_url}/_sandbox/response/"
        + workspace.mint_response_url("C0DISPUTES", user),
    }


def interaction(kind: str, **fields: object) -> bytes:
    payload = {
        "type": kind,
        "user": {"id": "U0MANAGER1"},
        "team": {"id": "T0SANDBOX"},
        "trigger_id": "1.2.3",
        **fields,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def refusals(app: AppProcess, status: int) -> int:
    return app.output().count(f"refused a Slack request ({status})")


def stream_post(
    app: AppProcess, path: str, headers: dict[str, str], total: int, *, chunked: bool
) -> tuple[int | None, int, bool]:
    """POST up to `total` bytes in 64 KiB pieces, stopping as soon as the server answers.
    Returns the status it answered with, the bytes sent and whether the body was sent whole."""
    url = urlsplit(app.url)
    piece = b"x" * 65536
    head = f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sent, finished = 0, False
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n")
        try:
            while sent < total:
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
                finished = True
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        answer = b""
        try:
            if select.select([sock], [], [], 10)[0]:
                answer = sock.recv(4096)
        except ConnectionResetError:
            pass
    status = int(answer.split()[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return status, sent, finished


# -- size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "declared"), [("/slack/events", 100 * MiB), ("/api/customer-replies", 100 * MiB)]
)
def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(
    app: AppProcess, path: str, declared: int
) -> None:
    headers = {"Content-Type": FORM, "Content-Length": str(declared)}
    status, sent, finished = stream_post(app, path, headers, declared, chunked=False)
    assert status == 413
    assert not finished and sent < declared // 10


def test_a_streamed_body_is_cut_off_at_the_cap(app: AppProcess) -> None:
    headers = {"Content-Type": FORM, "Transfer-Encoding": "chunked"}
    status, sent, finished = stream_post(app, "/slack/events", headers, 64 * MiB, chunked=True)
    assert status == 413
    assert not finished and sent < 16 * MiB
    # The app still serves afterwards.
    assert httpx.get(app.url + "/healthz").status_code == 200


def test_a_signed_body_under_the_cap_is_served(app: AppProcess) -> None:
    event = {"type": "message", "channel": "C0ELSEWHERE", "user": "U0AGENT", "ts": "1.000001"}
    event["text"] = marker() + "x" * int(1.8 * MiB)
    envelope = {"type": "event_callback", "event_id": "Ev0BIG", "event": event}
    answer = send_signed(app, json.dumps(envelope).encode(), "application/json")
    assert answer.status_code == 200


# -- signatures and malformed bodies ------------------------------------------------------


def test_unsigned_and_badly_signed_requests_get_401_and_one_line_each(app: AppProcess) -> None:
    body = f"command=%2Fdispute&text=help+{marker()}&user_id=U0MANAGER1".encode()
    before = refusals(app, 401)
    unsigned = httpx.post(app.url + "/slack/events", content=body, headers={"Content-Type": FORM})
    wrong = send_signed(app, body, secret="not-the-secret")
    stale = send_signed(app, body, timestamp=str(int(time.time()) - 600))
    assert [r.status_code for r in (unsigned, wrong, stale)] == [401, 401, 401]
    assert refusals(app, 401) == before + 3


MALFORMED = {
    "form payload that is not JSON": lambda: f"payload={{bad{marker()}".encode(),
    "payload that is a list": lambda: f'payload=[1,2,"{marker()}"]'.encode(),
    "payload that is a string": lambda: urlencode({"payload": json.dumps(marker())}).encode(),
    "broken percent escapes": lambda: f"%ZZ{marker()}".encode(),
    "bytes that are not UTF-8": lambda: b"\xff\xfe\x00" + marker().encode(),
    "JSON nested too deep": lambda: ('{"a":' * 100_000 + f'"{marker()}"' + "}" * 100_000).encode(),
    "JSON event that is not an object": lambda: json.dumps(
        {"type": "event_callback", "event_id": "Ev1", "event": marker()}
    ).encode(),
    "slash command without user_id": lambda: urlencode(
        {
            "command": "/dispute",
            "text": f"help {marker()}",
            "response_url": "https://hooks.slack.com/x",
        }
    ).encode(),
    "block_actions without actions": lambda: interaction(
        "block_actions", response_url=f"https://hooks.slack.com/{marker()}"
    ),
    "block_actions with a value the app did not write": lambda: interaction(
        "block_actions", actions=[{"action_id": "review.start", "value": marker()}]
    ),
    "block_actions with a dispute number past the database's": lambda: interaction(
        "block_actions",
        actions=[{"action_id": "refund.retry", "value": '{"dispute": 99999999999999999999}'}],
        private=marker(),
    ),
    "view_submission with metadata the app did not write": lambda: interaction(
        "view_submission",
        view={"type": "modal", "callback_id": "evidence.modal", "private_metadata": marker()},
    ),
    "view_submission whose state is not objects": lambda: interaction(
        "view_submission",
        view={
            "type": "modal",
            "callback_id": "evidence.modal",
            "private_metadata": '{"dispute": 1}',
            "state": {"values": {"note": {"note": marker()}}},
        },
    ),
    "interaction without a user": lambda: urlencode(
        {"payload": json.dumps({"type": "block_actions", "actions": [{"action_id": marker()}]})}
    ).encode(),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_signed_body_gets_400_and_one_line(app: AppProcess, case: str) -> None:
    body = MALFORMED[case]()
    content_type = "application/json" if body.startswith(b"{") else FORM
    before = refusals(app, 400)
    answer = send_signed(app, body, content_type)
    assert answer.status_code == 400, answer.text
    assert answer.json()["ok"] is False and answer.json()["error"]
    assert refusals(app, 400) == before + 1
    assert "Traceback" not in app.output()


def test_a_timestamp_that_is_not_a_number_gets_400(app: AppProcess) -> None:
    body = f"command=%2Fdispute&text=help+{marker()}&user_id=U0MANAGER1".encode()
    answer = send_signed(app, body, timestamp="soon")
    assert answer.status_code == 400
    assert "Traceback" not in app.output()


# -- response URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response_url",
    [
        "https://attacker.example/hook",
        "http://hooks.slack.com/commands/T0/1/x",
        "https://hooks.slack.com@attacker.example/commands",
        "https://hooks.slack.com.attacker.example/commands",
    ],
)
def test_a_response_url_that_is_not_slacks_is_refused(
    app: AppProcess, workspace: Workspace, emulator: EmulatorServer, response_url: str
) -> None:
    fields = {**command_fields(workspace, emulator, f"show D-1 {marker()}")}
    fields["response_url"] = response_url
    answer = send_signed(app, urlencode(fields).encode())
    assert answer.status_code == 400
    assert "response_url" in answer.json()["error"]
    action = interaction(
        "block_actions",
        actions=[{"action_id": "policy.why", "value": '{"dispute": 1}'}],
        response_url=response_url,
    )
    assert send_signed(app, action).status_code == 400


def test_a_command_answering_to_the_sandbox_is_served(
    app: AppProcess, workspace: Workspace, emulator: EmulatorServer
) -> None:
    fields = command_fields(workspace, emulator, "help")
    answer = send_signed(app, urlencode(fields).encode())
    assert answer.status_code == 200 and "/dispute open" in answer.text


# -- customer replies ------------------------------------------------------------------------


async def open_dispute(app: AppProcess, workspace: Workspace, emulator: EmulatorServer) -> None:
    async with SlackDriver(app.url, app.secret, workspace, emulator.base_url) as slack:
        answer = await slack.command("open ORD-1001 damaged", user="U0MANAGER1")
    assert answer.status_code == 200
    await eventually(lambda: dispute_count(app.database) >= 1)


def dispute_count(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT count(*) FROM disputes").fetchone()[0]


def replies_filed(database: Path, mark: str) -> int:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT count(*) FROM evidence_items WHERE source = 'customer-reply' "
            "AND summary LIKE ?",
            (f"%{mark}%",),
        ).fetchone()[0]


def signed_reply(mark: str, dispute: str = "D-1") -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"dispute": dispute, "from": CUSTOMER, "body": f"Still broken {mark}"})
    return body.encode(), signed_headers(INBOUND_SECRET, body.encode())


def post_reply(app: AppProcess, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(app.url + "/api/customer-replies", content=body, headers=headers)


async def test_a_signed_customer_reply_sent_three_times_is_filed_once(
    app: AppProcess, workspace: Workspace, emulator: EmulatorServer
) -> None:
    await open_dispute(app, workspace, emulator)
    mark = marker()
    body, headers = signed_reply(mark)
    answers = [post_reply(app, body, headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == {"ok": True, "dispute": "D-1"}
    assert answers[1].json() == answers[2].json() == {"ok": True, "duplicate": True}
    assert replies_filed(app.database, mark) == 1


def test_a_refused_reply_is_refused_again_not_taken_for_a_duplicate(app: AppProcess) -> None:
    body, headers = signed_reply(marker(), dispute="D-999")
    answers = [post_reply(app, body, headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [404, 404]


async def test_a_reply_replayed_after_a_restart_is_still_a_duplicate(
    emulator: EmulatorServer, workspace: Workspace, tmp_path: Path
) -> None:
    mark = marker()
    body, headers = signed_reply(mark)
    env = {"INBOUND_SECRET": INBOUND_SECRET}
    with app_process(tmp_path, emulator.api_url, **env) as first:
        await open_dispute(first, workspace, emulator)
        assert post_reply(first, body, headers).json() == {"ok": True, "dispute": "D-1"}
    with app_process(tmp_path, emulator.api_url, **env) as second:
        assert post_reply(second, body, headers).json() == {"ok": True, "duplicate": True}
        assert replies_filed(second.database, mark) == 1


# -- health ------------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_healthz_with_a_broken_database_says_only_unavailable(
    postgres_server: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    name = f"dd_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
        with app_process(tmp_path, emulator.api_url, DATABASE_URL=url) as running:
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
                healthy = await http.get("/healthz")
                assert healthy.json() == {"ok": True, "database": "ok"}
                async with admin.connect() as connection:
                    await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                answer = await http.get("/healthz")
            assert answer.status_code == 503
            assert answer.json() == {"ok": False, "database": "unavailable"}
            assert name not in answer.text
            await eventually(lambda: "health check: database unavailable" in running.output())
    finally:
        await admin.dispose()


# -- the log (kept last: it reads what every test above sent) -------------------------------------


def test_the_log_holds_no_request_body_and_no_secret(app: AppProcess) -> None:
    # A few more of each kind, so the check means something when run alone.
    body = f"command=%2Fdispute&text=open+ORD-1001+{marker()}&user_id=U0MANAGER1".encode()
    send_signed(app, body, secret="wrong")
    send_signed(app, f"payload={{{marker()}".encode())
    httpx.post(app.url + "/slack/events", content=marker().encode() + b"\nERROR forged line")
    reply, headers = signed_reply(marker(), dispute="D-999")
    post_reply(app, reply, headers)
    post_reply(app, reply, {**headers, "X-Dispute-Desk-Signature": "v1=00"})
    log = app.output()
    leaked = [mark for mark in SENT_MARKERS if mark in log]
    assert leaked == []
    assert "forged line" not in log
    for secret in (app.secret, BOT_TOKEN, INBOUND_SECRET):
        assert secret not in log
    assert "Traceback" not in log
    assert "refused a Slack request (401)" in log and "refused a customer reply (401)" in log
