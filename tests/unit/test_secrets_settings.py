"""Secrets in settings: a bad value is named, never shown; URL passwords are masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import StartupError
from bot.money_wiring import load_gateway
from bot.settings import Settings, SettingsError, is_secret, load_settings, redact

MARKER = "MARKER9f3ac1d7"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


SECRET_VALUES = [
    ("SLACK_BOT_TOKEN", f"xapp-{MARKER}"),
    ("SLACK_BOT_TOKEN", f"xoxb-{MARKER} tail"),
    ("SLACK_APP_TOKEN", f"xoxb-{MARKER}"),
    ("SLACK_SIGNING_SECRET", f"{MARKER} {MARKER}"),
    ("SLACK_SIGNING_SECRET", f"{MARKER}\nsecond-line"),
    ("STRIPE_API_KEY", f"pk_live_{MARKER}"),
    ("STRIPE_API_KEY", f"sk_live_{MARKER}\x7f"),
    ("INBOUND_SECRET", f"{MARKER}\x1b[31m"),
    ("OUTBOUND_SECRET", f"{MARKER} {MARKER}"),
    ("OUTBOUND_SECRET", f"{MARKER}\x07bell"),
]

URL_VALUES = [
    ("DATABASE_URL", f"postgresql://admin:{MARKER}@db.example/disputes"),
    ("DATABASE_URL", f"postgresql+asyncpg://admin:{MARKER}@db.example:port/disputes"),
    ("DATABASE_URL", f"mysql://ops@example.com:{MARKER}@db.example/disputes"),
    ("ORDER_SOURCE", f"ftp://orders:{MARKER}@orders.example/"),
    ("SLACK_API_URL", f"slack://bot:{MARKER}@slack.example/api"),
    ("PUBLIC_URL", f"ftp://desk:{MARKER}@desk.example"),
]


@pytest.mark.parametrize(("name", "value"), SECRET_VALUES)
def test_a_malformed_secret_is_named_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(f"{name} is not valid: ")
    assert MARKER not in message
    assert "\n" not in message


@pytest.mark.parametrize(("name", "value"), SECRET_VALUES)
def test_a_malformed_secret_passed_in_code_is_not_shown_either(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**{name.lower(): value})
    assert MARKER not in str(refused.value)
    assert str(refused.value).startswith(f"{name} is not valid: ")


@pytest.mark.parametrize(("name", "value"), URL_VALUES)
def test_a_malformed_url_is_shown_with_its_password_masked(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(f"{name}='")
    assert ":***@" in message
    assert MARKER not in message
    assert "\n" not in message


def test_secrets_keep_working_when_pasted_with_surrounding_spaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", " xoxb-1-2-3\n")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "  abc123  ")
    monkeypatch.setenv("SLACK_APP_TOKEN", "")
    settings = load_settings()
    assert settings.slack_bot_token == "xoxb-1-2-3"
    assert settings.slack_signing_secret == "abc123"
    assert settings.slack_app_token is None


def test_the_settings_repr_holds_no_secret() -> None:
    settings = load_settings(
        slack_bot_token=f"xoxb-{MARKER}1",
        slack_app_token=f"xapp-{MARKER}2",
        slack_signing_secret=f"{MARKER}3",
        stripe_api_key=f"sk_test_{MARKER}4",
        inbound_secret=f"{MARKER}5",
        outbound_secret=f"{MARKER}8",
        database_url=f"postgresql+asyncpg://desk:{MARKER}6@db.example/disputes",
        customer_channel=f"smtp://mailer:{MARKER}7@smtp.example:587",
    )
    for shown in (repr(settings), str(settings)):
        assert MARKER not in shown
    assert "postgresql+asyncpg://desk:***@db.example/disputes" in repr(settings)


def test_redact_masks_this_configurations_secrets_and_url_passwords() -> None:
    settings = load_settings(
        slack_bot_token=f"xoxb-{MARKER}",
        stripe_api_key=f"sk_test_{MARKER}x",
        inbound_secret="short",
    )
    text = (
        f"refused xoxb-{MARKER} and sk_test_{MARKER}x at "
        f"smtp://mailer:{MARKER}@smtp.example:587 and "
        f"https://pay.example/v1?api_key={MARKER}&page=2 (a short word stays)"
    )
    shown = settings.redact(text)
    assert MARKER not in shown
    assert "smtp://mailer:***@smtp.example:587" in shown
    assert "api_key=***&page=2" in shown
    assert shown.endswith("(a short word stays)")


def test_urls_without_a_password_are_left_alone() -> None:
    for text in (
        "postgresql+asyncpg://desk@db.example:5432/disputes",
        "http://127.0.0.1:3000/slack/events",
        "REFUND_GATEWAY must be stripe or http:<base-url>, got 'paypal'",
    ):
        assert redact(text) == text


@pytest.mark.parametrize(
    "name",
    [
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "STRIPE_API_KEY",
        "INBOUND_SECRET",
        "OUTBOUND_SECRET",
        "smtp_password",
    ],
)
def test_the_secret_settings(name: str) -> None:
    assert is_secret(name)


def test_every_secret_field_is_left_out_of_the_repr() -> None:
    for name, field in Settings.model_fields.items():
        assert field.repr is not is_secret(name), name


@pytest.mark.parametrize(
    ("spec", "base"),
    [
        ("paypal", None),
        ("stripe", "ftp://api.example"),
        ("stripe", "https://api.stripe.com/v1"),
        ("http:nowhere", None),
        ("shopify", None),
    ],
)
def test_refund_gateway_errors_never_show_the_stripe_key(spec: str, base: str | None) -> None:
    settings = load_settings(
        refund_gateway=spec, stripe_api_key=f"sk_live_{MARKER}", stripe_api_base=base
    )
    with pytest.raises(StartupError) as refused:
        load_gateway(settings)
    assert MARKER not in str(refused.value)
