"""Settings: defaults, and one clear line naming the variable for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_name_shipped_files_independent_of_cwd() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./dispute-desk.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    fixtures = Path(settings.order_source.removeprefix("fixtures:"))
    assert fixtures.is_absolute() and fixtures.is_dir()
    assert settings.policy_pack.is_absolute()
    assert settings.base_url == "http://127.0.0.1:3000"


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISPUTES_CHANNEL=#returns\nPORT=8080\n")
    settings = load_settings()
    assert settings.disputes_channel == "#returns"
    assert settings.port == 8080


def test_api_url_gets_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    assert load_settings().slack_api_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PORT", "eighty", "PORT='eighty' is not valid"),
        ("PORT", "70000", "PORT='70000' is not valid"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL='mysql://x' is not valid: expected sqlite"),
        ("ORDER_SOURCE", "ftp:x", "ORDER_SOURCE='ftp:x' is not valid: expected fixtures:"),
        ("SLACK_API_URL", "slack.com", "SLACK_API_URL='slack.com' is not valid: expected an http"),
        ("SLACK_BOT_TOKEN", "xoxp-user", "SLACK_BOT_TOKEN is not valid: expected a bot"),
        ("SLACK_APP_TOKEN", "nope", "SLACK_APP_TOKEN is not valid"),
        ("STRIPE_API_KEY", "pk_live_1", "STRIPE_API_KEY is not valid: expected a secret key"),
        ("PUBLIC_URL", "ftp://x", "PUBLIC_URL='ftp://x' is not valid"),
        ("INTAKE_WORKERS", "0", "INTAKE_WORKERS='0' is not valid"),
    ],
)
def test_malformed_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith(says)
    assert "\n" not in str(refused.value)


def test_require_names_the_missing_variable() -> None:
    with pytest.raises(SettingsError, match=r"^SLACK_SIGNING_SECRET is not set: "):
        load_settings().require("slack_signing_secret")
