"""The deployment files in deploy/, read as a container runtime would read them (none runs on
these machines): the compose file's services against the settings contract, the image's install
step against CI's, nginx's routes against the app's."""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.metrics import REGISTRY, Backlogs
from bot.settings import Settings, load_settings
from bot.workers import WorkQueue
from disputes.backlogs import Backlog
from tests.support.nginx import nginx_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
APPS = ("app1", "app2", "app3")
# What `serve` refuses to start without in HTTP mode (bot/runtime.py: settings.require), and
# what a replica behind a load balancer needs besides.
SERVE_NEEDS = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DISPUTES_CHANNEL", "DATABASE_URL"}
REPLICA_NEEDS = {"HOST", "PORT", "PUBLIC_URL", "LOG_FORMAT"}
# Read by compose itself (interpolation and the postgres image), not by the app.
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}
SETTINGS = {name.upper() for name in Settings.model_fields}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::?[-?+][^}]*)?\}")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def env_example() -> dict[str, str]:
    """The variables deploy/.env.example sets (comments and blank lines left out)."""
    values = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolated(value: str, env: dict[str, str]) -> str:
    """`value` as compose writes it into a container, the variables taken from `env`."""
    return INTERPOLATION.sub(lambda m: env[m.group("name")], value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


# -- compose ------------------------------------------------------------------------------------


def test_the_stack_is_postgresql_a_migration_three_apps_and_nginx() -> None:
    assert set(services()) == {"postgres", "migrate", *APPS, "nginx"}
    postgres = services()["postgres"]
    assert str(postgres["image"]).startswith("postgres:15")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(environment(postgres))


def test_every_app_names_only_settings_the_app_knows_and_all_serve_needs() -> None:
    for name in APPS:
        app = services()[name]
        names = set(environment(app))
        assert names <= SETTINGS, (name, names - SETTINGS)
        assert names >= SERVE_NEEDS | REPLICA_NEEDS, (name, (SERVE_NEEDS | REPLICA_NEEDS) - names)
        assert app["env_file"] == [".env"]  # the optional settings the operator set there
        env = environment(app)
        assert env["HOST"] == "0.0.0.0" and env["LOG_FORMAT"] == "json"
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in env["DATABASE_URL"]


def test_the_apps_start_after_the_one_migration_and_do_not_migrate_themselves() -> None:
    migrate = services()["migrate"]
    assert migrate["command"] == ["migrate"]
    assert set(environment(migrate)) <= SETTINGS
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no"
    for name in APPS:
        app = services()[name]
        assert app["command"] == ["serve", "--no-migrate"]
        assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert environment(app)["DATABASE_URL"] == environment(migrate)["DATABASE_URL"]
    assert {services()[n]["image"] for n in (*APPS, "migrate")} == {"dispute-desk:latest"}
    assert services()["migrate"]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_every_app_is_ready_when_healthz_answers_on_its_port() -> None:
    for name in APPS:
        app = services()[name]
        check = " ".join(app["healthcheck"]["test"])
        port = environment(app)["PORT"]
        assert f"http://127.0.0.1:{port}/healthz" in check, name
        assert app["healthcheck"]["test"][0] == "CMD"
    nginx = services()["nginx"]
    assert {n: c["condition"] for n, c in nginx["depends_on"].items()} == dict.fromkeys(
        APPS, "service_healthy"
    )
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]


def test_env_example_sets_every_variable_compose_asks_for_and_they_are_valid_settings() -> None:
    example = env_example()
    asked = set(INTERPOLATION.findall((DEPLOY / "compose.yml").read_text()))
    assert asked <= set(example), asked - set(example)
    assert set(example) <= SETTINGS | COMPOSE_ONLY, set(example) - SETTINGS - COMPOSE_ONLY
    for name in APPS:
        # What one replica is given: the env file, then compose's own environment over it.
        given = {k: v for k, v in example.items() if k not in COMPOSE_ONLY} | {
            k: interpolated(v, example) for k, v in environment(services()[name]).items()
        }
        settings = load_settings(**{k.lower(): v for k, v in given.items()})
        settings.require("slack_bot_token", "slack_signing_secret", "disputes_channel")
        assert settings.database_url.endswith("@postgres:5432/dispute_desk")
        assert (settings.host, settings.port, settings.log_format) == ("0.0.0.0", 3000, "json")


def test_the_filled_in_env_file_is_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT, capture_output=True
    )
    assert ignored.returncode == 0


# -- the image ----------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def pip_steps(commands: list[str]) -> list[list[str]]:
    """The `python -m pip ...` invocations in shell `commands`, each as its arguments after
    `pip`, the project's own install written the same way (`-e` and extras left out)."""
    steps = []
    for command in commands:
        for part in re.split(r"&&|;|\n", command):
            words = shlex.split(part.replace('"$venv/bin/python"', "python").rstrip(" \\"))
            if words[:3] != ["python", "-m", "pip"]:
                continue
            args = [w for w in words[3:] if w != "-e"]
            steps.append([re.sub(r"^\.\[[a-z,]+\]$", ".", w) for w in args])
    return steps


def test_the_image_installs_the_project_the_way_ci_does() -> None:
    runs = [args for instruction, args in dockerfile() if instruction == "RUN"]
    dev = (ROOT / "dev").read_text()
    setup = dev[dev.index("setup() {") : dev.index("\ntask=")]
    in_ci = pip_steps(re.findall(r'"\$venv/bin/python" -m pip install[^\n&}]*', setup))
    assert in_ci == [["install", "--upgrade", "pip"], ["install", "."]]
    assert pip_steps(runs) == in_ci
    # CI (.ci/run) installs through ./dev, with the `dev` extra: test tools only.
    assert "./dev lint" in (ROOT / ".ci" / "run").read_text()
    assert '"$venv/bin/python" -m pip install -e ".[dev]"' in setup


def test_the_image_holds_every_package_pyproject_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {args.split()[0] for instruction, args in dockerfile() if instruction == "COPY"}
    assert packages | {"pyproject.toml"} <= copied
    assert "README.md" in " ".join(args for i, args in dockerfile() if i == "COPY")
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {f"!{p}" for p in packages | {"pyproject.toml", "README.md"}} <= set(ignore)


def test_the_image_is_slim_runs_as_a_user_and_checks_healthz() -> None:
    steps = dockerfile()
    (base,) = [args for instruction, args in steps if instruction == "FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim", base)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"
    users = [args for instruction, args in steps if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    last_user = max(i for i, (instruction, _) in enumerate(steps) if instruction == "USER")
    assert all(instruction != "RUN" for instruction, _ in steps[last_user:])
    (health,) = [args for instruction, args in steps if instruction == "HEALTHCHECK"]
    assert "/healthz" in health
    assert dict(steps)["ENTRYPOINT"] == '["dispute-desk"]'
    assert dict(steps)["CMD"] == '["serve"]'


# -- nginx --------------------------------------------------------------------------------------


def nginx_conf() -> str:
    return (DEPLOY / "nginx.conf").read_text()


def test_nginx_balances_the_three_apps_on_the_port_they_listen_on() -> None:
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", nginx_conf(), re.S)
    assert upstream is not None
    name, body = upstream.groups()
    port = environment(services()["app1"])["PORT"]
    assert re.findall(r"server (\S+?)(?::\d+)? ", body) == list(APPS)
    assert all(f"{app}:{port}" in body for app in APPS)
    assert nginx_conf().count(f"proxy_pass http://{name};") >= 4


@pytest.mark.parametrize("path", ["= /slack/events", "/api/", "/c/", "= /healthz"])
def test_nginx_passes_the_app_s_paths_on(path: str) -> None:
    location = re.search(rf"location {re.escape(path)} \{{(.*?)\}}", nginx_conf(), re.S)
    assert location is not None, path
    assert "proxy_pass http://dispute_desk;" in location.group(1)


def test_nginx_passes_who_asked_and_a_request_id_and_keeps_metrics_inside() -> None:
    conf = nginx_conf()
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-Id"):
        assert f"proxy_set_header {header} " in conf, header
    for timeout in ("proxy_connect_timeout", "proxy_read_timeout", "client_body_timeout"):
        assert re.search(rf"{timeout} \d+s;", conf), timeout
    assert "location /metrics" not in conf and "location / {\n            return 404;" in conf
    assert "client_max_body_size 2m;" in conf


def test_nginx_accepts_the_file() -> None:
    binary = nginx_binary()
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "nginx.conf"
        # The compose service names resolve only inside compose's network; the scratch folders
        # go in the temporary folder, so the check runs without root.
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        scratch = " ".join(f"{kind}_temp_path {folder}/{kind};" for kind in kinds)
        text = re.sub(r"\bapp[123]:", "127.0.0.1:", nginx_conf())
        conf.write_text(text.replace("http {", f"http {{\n    {scratch}", 1))
        checked = subprocess.run(
            [
                binary,
                "-t",
                "-q",
                "-c",
                str(conf),
                "-p",
                folder,
                "-e",
                f"{folder}/error.log",
                "-g",
                f"pid {folder}/nginx.pid;",
            ],
            capture_output=True,
            text=True,
        )
    assert checked.returncode == 0, checked.stderr


# -- the README ---------------------------------------------------------------------------------


def test_the_readme_names_every_metric_and_the_new_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploying several replicas") : readme.index("## Security")]
    queue = WorkQueue(1)
    backlogs = Backlogs(None, queue)  # type: ignore[arg-type]
    backlogs._backlog = Backlog({"pending": 0}, {"pending": 0}, 0)
    families = [*REGISTRY.collect(), *backlogs.collect()]
    ours = {f.name for f in families if f.name.startswith("dispute_desk_")}
    assert len(ours) == 12
    for name in ours:
        counter = any(f.name == name and f.type == "counter" for f in families)
        assert f"`{name}_total" in section if counter else f"`{name}" in section, name
    table = readme[readme.index("### Configuration") : readme.index("### Order sources")]
    for variable in ("LOG_FORMAT", "METRICS_TOKEN"):
        assert f"| `{variable}` |" in table
