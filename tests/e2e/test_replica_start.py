"""Three replicas of `dispute-desk serve` started together on one fresh PostgreSQL database:
all come up healthy and the schema is migrated once (one process migrates, the others wait for
it or find it current); behind nginx with deploy/nginx.conf (its upstreams pointed at them),
requests reach every replica with nginx's request id. `serve --no-migrate` on a database nobody
migrated stops with one line saying what to run."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sandbox.app_process import clean_environment, free_port, spawn, stop, wait_serving
from sandbox.slack.server import EmulatorServer
from storage.migrate import head_revision
from tests.conftest import _fresh_postgres_database
from tests.support.app_process import ROOT, leaked_secrets
from tests.support.nginx import nginx_binary

MIGRATED = re.compile(r"migrated the database from empty to (\w+)")
WAITED = "waited for another process's migration; schema already current at"
CURRENT = "schema already current at"


def serve_environment(
    tmp: Path, api_url: str, database_url: str, **extra: str
) -> tuple[str, dict[str, str]]:
    port = free_port()
    settings = {
        **extra,
        "SLACK_BOT_TOKEN": "xoxb-sandbox",
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "DISPUTES_CHANNEL": "#disputes",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    return f"http://127.0.0.1:{port}", clean_environment(**settings)


@contextmanager
def started(tmp: Path, env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`dispute-desk serve` started, not waited for; stopped with SIGTERM on the way out."""
    tmp.mkdir(parents=True, exist_ok=True)
    process = spawn(["bot.cli", "serve", *args], env=env, cwd=tmp, log=tmp / "app.log")
    try:
        yield process
    finally:
        stop(process)


@contextmanager
def nginx_in_front(folder: Path, ports: list[int]) -> Iterator[tuple[str, Path]]:
    """nginx in the foreground with deploy/nginx.conf, its upstreams the replicas on loopback
    and its own files in `folder`; yields its URL and its access log."""
    folder.mkdir()
    port = free_port()
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for n, app_port in enumerate(ports, 1):
        conf = conf.replace(f"server app{n}:3000", f"server 127.0.0.1:{app_port}")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("access_log /dev/stdout", f"access_log {folder}/access.log")
    # Its scratch folders in `folder` too, so it runs without root.
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    scratch = " ".join(f"{kind}_temp_path {folder}/{kind};" for kind in kinds)
    conf = conf.replace("http {", f"http {{\n    {scratch}", 1)
    (folder / "nginx.conf").write_text(conf)
    command = [
        nginx_binary(),
        "-c",
        str(folder / "nginx.conf"),
        "-p",
        str(folder),
        "-e",
        str(folder / "error.log"),
        "-g",
        f"pid {folder}/nginx.pid; daemon off;",
    ]
    with (folder / "nginx.out").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url, process, folder / "error.log", name="nginx", timeout=20)
        yield url, folder / "access.log"
    finally:
        process.terminate()
        process.wait(10)


def behind_nginx(
    front: str, access_log: Path, replicas: list[tuple[Path, str, dict[str, str]]]
) -> None:
    """Readiness through nginx reaches every replica; a Slack request's log line in the replica
    carries nginx's request id; /metrics and other paths stay inside."""
    ids = []
    for _ in range(6):
        health = httpx.get(front + "/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        ids.append(health.headers["x-request-id"])
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids) and len(set(ids)) == 6
    forged = httpx.post(
        front + "/slack/events",
        content=b"command=%2Fdispute",
        headers={"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"},
        timeout=5,
    )
    assert forged.status_code == 401
    assert httpx.get(front + "/metrics", timeout=5).status_code == 404
    assert httpx.get(front + "/", timeout=5).status_code == 404
    logged = [json.loads(line) for line in access_log.read_text().splitlines()]
    by_id = {entry["request_id"]: entry for entry in logged}
    assert set(ids) <= set(by_id)
    upstreams = {by_id[rid]["upstream"] for rid in ids}
    assert len(upstreams) == 3, upstreams  # round robin: every replica answered
    rid = forged.headers["x-request-id"]
    lines = [
        json.loads(line)
        for tmp, _, _ in replicas
        for line in (tmp / "app.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert any(
        e["request_id"] == rid and str(e["message"]).startswith("refused a Slack request")
        for e in lines
    )


@pytest.mark.postgres
def test_three_replicas_started_together_migrate_once(
    emulator: EmulatorServer, postgres_server: str, tmp_path: Path
) -> None:
    nginx_binary()  # before anything starts: skipped (or, in CI, failed) without it
    database_url = asyncio.run(_fresh_postgres_database(postgres_server))
    replicas = [
        (
            tmp_path / f"app{n}",
            *serve_environment(tmp_path, emulator.api_url, database_url, LOG_FORMAT="json"),
        )
        for n in (1, 2, 3)
    ]
    with ExitStack() as stack:
        # All three are on their way before any is waited for: they race to migrate.
        processes = [stack.enter_context(started(tmp, env)) for tmp, _, env in replicas]
        for (tmp, url, _), process in zip(replicas, processes, strict=True):
            wait_serving(url, process, tmp / "app.log", name=tmp.name, timeout=60)
        for _, url, _ in replicas:
            health = httpx.get(url + "/healthz", timeout=5)
            assert health.json() == {"ok": True, "database": "ok"}
        ports = [int(url.rsplit(":", 1)[1]) for _, url, _ in replicas]
        with nginx_in_front(tmp_path / "nginx", ports) as (front, access_log):
            behind_nginx(front, access_log, replicas)
    outputs = [(tmp / "app.log").read_text() for tmp, _, _ in replicas]
    migrated = [m.group(1) for output in outputs for m in MIGRATED.finditer(output)]
    assert migrated == [head_revision()], outputs
    others = [output for output in outputs if not MIGRATED.search(output)]
    assert len(others) == 2
    assert all(WAITED in output or CURRENT in output for output in others), others
    for output, (_, _, env) in zip(outputs, replicas, strict=True):
        assert not leaked_secrets(output, env)
    assert asyncio.run(versions(database_url)) == [(head_revision(),)]


async def versions(database_url: str) -> list[tuple[str]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return [(row[0],) for row in rows]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_no_migrate_on_an_unmigrated_database_says_to_run_migrate(
    emulator: EmulatorServer, tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    if backend == "postgres":
        server = request.getfixturevalue("postgres_server")
        database_url = asyncio.run(_fresh_postgres_database(server))
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    _, env = serve_environment(tmp_path, emulator.api_url, database_url)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--no-migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dispute-desk: ") and "run `dispute-desk migrate`" in lines[0]
