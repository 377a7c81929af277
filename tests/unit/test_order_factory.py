"""`ORDER_SOURCE` specs turn into order sources, or into one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.orders.factory import default_fixtures_path, order_source_from_spec
from connectors.orders.fixtures import FixtureOrderSource
from connectors.orders.http import HttpOrderSource
from connectors.orders.protocol import OrderSource


def test_default_fixtures_path_is_inside_the_package_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    path = default_fixtures_path()

    assert path.is_absolute()
    assert path.parts[-4:] == ("sandbox", "world", "fixtures", "orders")
    assert (path / "ORD-1001.json").is_file()


async def test_fixtures_spec_with_absolute_folder() -> None:
    source = order_source_from_spec(f"fixtures:{default_fixtures_path()}")

    assert isinstance(source, FixtureOrderSource)
    assert isinstance(source, OrderSource)
    assert (await source.get_order("ORD-1001")).order_id == "ORD-1001"
    await source.aclose()


async def test_fixtures_spec_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = default_fixtures_path() / "ORD-1002.json"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "one.json").write_text(src.read_text())
    monkeypatch.chdir(tmp_path)

    source = order_source_from_spec("fixtures:data/one.json")

    assert isinstance(source, FixtureOrderSource)
    assert source.path == tmp_path / "data" / "one.json"
    assert (await source.get_order("ORD-1002")).customer.name == "Daniel Okafor"


def test_missing_fixtures_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ValueError) as caught:
        order_source_from_spec("fixtures:nowhere")

    assert str(caught.value) == f"ORDER_SOURCE fixtures path does not exist: {tmp_path / 'nowhere'}"


def test_empty_fixtures_path() -> None:
    with pytest.raises(ValueError, match="needs a file or folder"):
        order_source_from_spec("fixtures:")


def test_invalid_fixture_file_surfaces_as_value_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"order_id": "ORD-1"}))

    with pytest.raises(ValueError, match=r"bad\.json: order ORD-1: "):
        order_source_from_spec(f"fixtures:{tmp_path}")


@pytest.mark.parametrize(
    ("spec", "base"),
    [
        ("http:https://orders.example.com/api/", "https://orders.example.com/api"),
        ("http:http://127.0.0.1:8081", "http://127.0.0.1:8081"),
        (" HTTP: https://orders.example.com ", "https://orders.example.com"),
    ],
)
async def test_http_spec(spec: str, base: str) -> None:
    source = order_source_from_spec(spec)

    assert isinstance(source, HttpOrderSource)
    assert source.base_url == base
    await source.aclose()


@pytest.mark.parametrize(
    "spec",
    ["http:", "http:orders.example.com", "http:ftp://orders.example.com", "http://orders.example.com",
     "http:https://", "http:https://orders.example.com/?key=1"],
)  # fmt: skip
def test_http_spec_needs_an_http_url_with_a_host(spec: str) -> None:
    with pytest.raises(ValueError, match="ORDER_SOURCE http: "):
        order_source_from_spec(spec)


def test_shopify_is_not_supported_yet() -> None:
    with pytest.raises(ValueError, match="shopify:<shop> is not supported in this version"):
        order_source_from_spec("shopify:my-shop")


@pytest.mark.parametrize("spec", ["", "orders.json", "ftp:orders", "s3:bucket/orders"])
def test_unknown_spec_lists_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError) as caught:
        order_source_from_spec(spec)

    message = str(caught.value)
    assert "fixtures:<file-or-folder>" in message
    assert "http:<base-url>" in message
    assert repr(spec) in message
