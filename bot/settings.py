"""Configuration from the environment and `.env` (ARCHITECTURE §3)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from datetime import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse, urlsplit

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connectors.customers.factory import check_channel_setting
from connectors.orders.factory import default_fixtures_path
from disputes.weekly_schedule import WeeklyAt

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def default_order_source() -> str:
    return f"fixtures:{default_fixtures_path()}"


def default_policy_pack() -> Path:
    return PACKAGE_ROOT / "policies" / "packs" / "default.yml"


def default_sla_file() -> Path:
    return PACKAGE_ROOT / "policies" / "sla" / "default.yml"


# Settings whose values are never shown: in errors, logs or the settings' repr.
SECRET_SETTINGS = frozenset(
    {
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "stripe_api_key",
        "inbound_secret",
        "outbound_secret",
        "metrics_token",
    }
)
# Settings that may hold a password in a form a mistake can leave unmaskable (a space in it):
# a bad value is named, never shown.
UNSHOWN_SETTINGS = frozenset({"customer_channel"})
_SECRET_SUFFIXES = ("_token", "_secret", "_key", "_password")
# The shortest METRICS_TOKEN accepted: anyone reaching the port could guess a shorter one.
MIN_METRICS_TOKEN = 16
# A secret shorter than this is not searched for in messages: it would blank ordinary words.
_SHORTEST_REDACTED = 8


def is_secret(name: str) -> bool:
    """Whether the setting `name` (any case) holds a secret."""
    name = name.lower()
    return name in SECRET_SETTINGS or name.endswith(_SECRET_SUFFIXES)


# scheme://user:password@ -> the password; the user part may itself hold an @ (an email).
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/]*):[^\s]*@")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&](?:password|passwd|pwd|pass|secret|token|api_key|apikey|key)=)[^&\s'\"]*",
    re.IGNORECASE,
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with URL passwords and every one of `secrets` replaced by `***`."""
    text = _URL_PASSWORD.sub(r"\g<head>:***@", text)
    text = _QUERY_SECRET.sub(r"\g<head>***", text)
    for secret in sorted({s.strip() for s in secrets if s}, key=len, reverse=True):
        if len(secret) >= _SHORTEST_REDACTED:
            text = text.replace(secret, "***")
    return text


def environment_secrets() -> list[str]:
    """The secret settings' values in the environment and `.env` (for last-resort redaction)."""
    found = dict(os.environ)
    with contextlib.suppress(OSError, ValueError):
        found.update({k: v for k, v in dotenv_values(".env").items() if v})
    return [value for name, value in found.items() if is_secret(name) and value]


class SettingsError(Exception):
    """A missing or malformed setting, reported as one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: str | None = Field(None, repr=False)
    slack_signing_secret: str | None = Field(None, repr=False)
    slack_app_token: str | None = Field(None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite+aiosqlite:///./dispute-desk.db"
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=0, le=65535)
    disputes_channel: str | None = None
    supervisors_channel: str | None = None
    order_source: str = Field(default_factory=default_order_source)
    refund_gateway: str | None = None
    stripe_api_key: str | None = Field(None, repr=False)
    stripe_api_base: str | None = None
    # Where customer messages go: smtp://..., webhook:<url> or log.
    customer_channel: str = "log"
    # The From of customer mail; `customer_sender` is the address used.
    customer_from: str | None = None
    policy_pack: Path = Field(default_factory=default_policy_pack)
    # Service levels: business hours, priorities and a target per priority and stage.
    sla_file: Path = Field(default_factory=default_sla_file)
    roles_file: Path | None = None
    public_url: str | None = None
    # Shared secret that signs customer replies posted to /api/customer-replies.
    inbound_secret: str | None = Field(None, repr=False)
    # Shared secret that signs customer messages posted to a CUSTOMER_CHANNEL webhook.
    outbound_secret: str | None = Field(None, repr=False)
    # How long a settlement offer to a customer stays open, and when they are reminded of it.
    offer_expires_days: int = Field(14, ge=1, le=365)
    offer_reminder_hours: int = Field(72, ge=1, le=24 * 60)
    intake_workers: int = Field(8, ge=1, le=256)
    # A worker's claim on a refund request, renewed while it waits on the provider.
    refund_lease_seconds: int = Field(120, ge=2, le=3600)
    # After an unknown outcome, the least wait before sending again when the provider holds none.
    refund_settle_seconds: int = Field(30, ge=1, le=86400)
    # How long a refund's outcome may stay unknown before the dispute needs attention.
    refund_attention_after: int = Field(900, ge=1, le=7 * 86400)
    # Bottleneck alerts: how often the scan runs, how long Snooze holds an alert back, when the
    # daily summary goes out (HH:MM in the SLA file's timezone; empty: none), and people who
    # get each digest as a direct message too (Slack user ids, comma-separated).
    alert_scan_every: int = Field(300, ge=1, le=86400)
    alert_snooze_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    alert_summary_at: str | None = "09:00"
    alert_dm_users: str | None = None
    # Logs: one line of text per entry (the demo's default), or one JSON object per line with
    # the request id of the Slack request it belongs to (for a log collector).
    log_format: Literal["text", "json"] = "text"
    # GET /metrics (Prometheus) answers only with `Authorization: Bearer <METRICS_TOKEN>`;
    # unset, the path does not exist.
    metrics_token: str | None = Field(None, repr=False)
    # The weekly insights report to SUPERVISORS_CHANNEL: a weekday and a time in the SLA file's
    # timezone ("mon 09:00"), or "off".
    insights_report_at: str = "mon 09:00"
    # Slack's rate limits: an optional budget of messages per second per channel (unset: none,
    # 429s are waited out), and the longest a Slack call waits for a limit before giving up.
    slack_post_rate: float | None = None
    slack_max_wait: float = Field(60.0, ge=1, le=3600)

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        _require_http_url(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value:
            _require_http_url(value)
            return value.rstrip("/")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"} or "://" not in value:
            raise ValueError(
                "expected sqlite+aiosqlite:///path/to.db or postgresql+asyncpg://user@host/db"
            )
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a database URL (a user name or password with / @ : or # in it must be "
                "percent-encoded)"
            ) from None
        return value

    @field_validator(
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "stripe_api_key",
        "inbound_secret",
        "outbound_secret",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _secret_text(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if any(char.isspace() or not char.isprintable() for char in value):
                raise ValueError("must not contain spaces or control characters")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: str | None) -> str | None:
        if value is not None and len(value) < MIN_METRICS_TOKEN:
            raise ValueError(
                f"must be at least {MIN_METRICS_TOKEN} characters (e.g. `openssl rand -hex 24`)"
            )
        return value

    @field_validator("slack_post_rate", mode="before")
    @classmethod
    def _post_rate(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            rate = float(str(value).strip())
        except ValueError:
            raise ValueError("expected messages per second per channel, like 0.5") from None
        if not 0 < rate <= 100:  # NaN fails this too
            raise ValueError("expected messages per second per channel, above 0 and at most 100")
        return rate

    @field_validator("alert_summary_at")
    @classmethod
    def _summary_at(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("expected a time of day like 09:00, or nothing for no summary")
        return value

    @field_validator("insights_report_at")
    @classmethod
    def _report_at(cls, value: str) -> str:
        schedule = WeeklyAt.parse(value)
        return str(schedule) if schedule is not None else "off"

    @field_validator("alert_dm_users")
    @classmethod
    def _dm_users(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        people = [part.strip() for part in value.split(",") if part.strip()]
        for person in people:
            if not re.fullmatch(r"[UW][A-Z0-9]{2,40}", person):
                raise ValueError(f"{person!r} is not a Slack user id (like U012ABCDEF)")
        return ",".join(people)

    @property
    def summary_time(self) -> time | None:
        if not self.alert_summary_at:
            return None
        hours, minutes = self.alert_summary_at.split(":")
        return time(int(hours), int(minutes))

    @property
    def weekly_report_at(self) -> WeeklyAt | None:
        """When the weekly insights report goes out; None: never."""
        return WeeklyAt.parse(self.insights_report_at)

    @property
    def dm_users(self) -> list[str]:
        return self.alert_dm_users.split(",") if self.alert_dm_users else []

    @field_validator("order_source")
    @classmethod
    def _order_source(cls, value: str) -> str:
        if not value.startswith(("fixtures:", "http:", "shopify:")):
            raise ValueError("expected fixtures:<file-or-folder> or http:<base-url>")
        return value

    @field_validator("customer_channel")
    @classmethod
    def _customer_channel(cls, value: str) -> str:
        return check_channel_setting(value)

    @field_validator("customer_from")
    @classmethod
    def _customer_from(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _EMAIL_ADDRESS.fullmatch(value):
            raise ValueError("expected an email address, e.g. disputes@shop.example")
        return value

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> Settings:
        if self.customer_channel.startswith("webhook:") and not self.outbound_secret:
            raise ValueError(
                "OUTBOUND_SECRET is not set: a CUSTOMER_CHANNEL webhook signs every request with it"
            )
        return self

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("expected a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("expected an app-level token starting with xapp-")
        return value

    @field_validator("stripe_api_key")
    @classmethod
    def _stripe_key(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sk_", "rk_")):
            raise ValueError("expected a secret key starting with sk_ (or a restricted rk_ key)")
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact(value) if isinstance(value, str) else value

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def customer_sender(self) -> str:
        """The From of customer mail: CUSTOMER_FROM, or disputes@ the host the app is reached at."""
        if self.customer_from:
            return self.customer_from
        return f"disputes@{urlsplit(self.base_url).hostname or 'localhost'}"

    def require(self, *names: str) -> None:
        """Stop with one line when a variable this command needs is unset."""
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"{name.upper()} is not set: {_NEEDS.get(name, 'required')}")

    def require_serving(self) -> None:
        """Stop with one line unless the Slack settings the app is served with are set."""
        self.require("slack_bot_token", "disputes_channel")
        if not self.slack_app_token:
            self.require("slack_signing_secret")

    def secrets(self) -> list[str]:
        """The values of the secret settings that are set."""
        values = (getattr(self, name) for name in type(self).model_fields if is_secret(name))
        return [value for value in values if isinstance(value, str) and value]

    def redact(self, text: str) -> str:
        """`text` safe to print: URL passwords and this configuration's secrets as `***`."""
        return redact(text, self.secrets())


_NEEDS = {
    "slack_bot_token": "the bot token (xoxb-...) from the Slack app's OAuth page",
    "slack_signing_secret": "the signing secret from the Slack app's Basic Information page",
    "disputes_channel": "the channel id or name where dispute threads are posted",
}


# local@domain: no spaces, brackets, quotes or separators, one @, a domain of labels.
_EMAIL_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?")


def _require_http_url(value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValueError("expected an http(s) URL")


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn the first validation problem into a one-line `SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        if not error["loc"]:
            # A rule across settings: its message names them; the input holds every value.
            raise SettingsError(error["msg"].removeprefix("Value error, ")) from None
        field = str(error["loc"][0])
        name = field.upper() or "settings"
        unshown = is_secret(field) or field in UNSHOWN_SETTINGS
        secrets = [str(error.get("input"))] if unshown else []
        message = redact(error["msg"].removeprefix("Value error, "), secrets)
        if unshown:
            # The value of a secret is never shown, not even in part.
            raise SettingsError(f"{name} is not valid: {message}") from None
        value = redact(repr(error.get("input")))
        raise SettingsError(f"{name}={value} is not valid: {message}") from None
