"""manifest.yml is a valid Slack app manifest (schema 1.0.0) and matches what the app does."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.outside import unavailable

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = (
    ROOT.parent / "shared" / "slack" / "manifest-schema" / "schemas" / "manifest.schema.1.0.0.json"
)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    """Slack's manifest schema, from the shared folder beside the clone (present in CI)."""
    if not SCHEMA.exists():
        unavailable(f"Slack's manifest schema is not beside the repository ({SCHEMA})")
    return json.loads(SCHEMA.read_text())


def test_manifest_validates_against_slacks_schema(manifest: dict, schema: dict) -> None:
    jsonschema.Draft7Validator(schema).validate(manifest)


def test_a_broken_manifest_is_rejected(manifest: dict, schema: dict) -> None:
    broken = {**manifest, "features": {**manifest["features"], "slash_commands": [{"x": 1}]}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_dispute_command_escapes_mentions_and_posts_to_the_events_url(manifest: dict) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/dispute"
    assert command["should_escape"] is True
    assert command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_scopes_are_the_least_the_app_uses(manifest: dict) -> None:
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "channels:read",
        "channels:join",
        "groups:read",
        "channels:history",
        "groups:history",
        "files:read",
        "files:write",
        "usergroups:read",
    }
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "message.channels",
        "message.groups",
    ]


def test_direct_messages_to_proposers_are_possible_and_read_only(manifest: dict) -> None:
    # A proposer is told of an approval or a request for changes in the app's Messages tab.
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is True
    assert "chat:write" in manifest["oauth_config"]["scopes"]["bot"]
