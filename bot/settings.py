"""Configuration from the environment and `.env` (ARCHITECTURE §3)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.orders.factory import default_fixtures_path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def default_order_source() -> str:
    return f"fixtures:{default_fixtures_path()}"


def default_policy_pack() -> Path:
    return PACKAGE_ROOT / "policies" / "packs" / "default.yml"


class SettingsError(Exception):
    """A missing or malformed setting, reported as one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite+aiosqlite:///./dispute-desk.db"
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=0, le=65535)
    disputes_channel: str | None = None
    supervisors_channel: str | None = None
    order_source: str = Field(default_factory=default_order_source)
    refund_gateway: str | None = None
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    customer_channel: str = "log"
    policy_pack: Path = Field(default_factory=default_policy_pack)
    roles_file: Path | None = None
    public_url: str | None = None
    # Shared secret that signs customer replies posted to /api/customer-replies.
    inbound_secret: str | None = None
    intake_workers: int = Field(8, ge=1, le=256)
    # A worker's claim on a refund request, renewed while it waits on the provider.
    refund_lease_seconds: int = Field(120, ge=2, le=3600)
    # After an unknown outcome, the least wait before sending again when the provider holds none.
    refund_settle_seconds: int = Field(30, ge=1, le=86400)
    # How long a refund's outcome may stay unknown before the dispute needs attention.
    refund_attention_after: int = Field(900, ge=1, le=7 * 86400)

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
        return value

    @field_validator("order_source")
    @classmethod
    def _order_source(cls, value: str) -> str:
        if not value.startswith(("fixtures:", "http:", "shopify:")):
            raise ValueError("expected fixtures:<file-or-folder> or http:<base-url>")
        return value

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

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def require(self, *names: str) -> None:
        """Stop with one line when a variable this command needs is unset."""
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"{name.upper()} is not set: {_NEEDS.get(name, 'required')}")


_NEEDS = {
    "slack_bot_token": "the bot token (xoxb-...) from the Slack app's OAuth page",
    "slack_signing_secret": "the signing secret from the Slack app's Basic Information page",
    "disputes_channel": "the channel id or name where dispute threads are posted",
}


def _require_http_url(value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValueError("expected an http(s) URL")


def load_settings(**overrides: object) -> Settings:
    """Read settings; turn the first validation problem into a one-line `SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        value = error.get("input")
        message = error["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}={value!r} is not valid: {message}") from None
