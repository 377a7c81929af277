"""A pack's notice is untrusted text: the sandbox refuses products that would exhaust the app,
and still computes the small ones a message may need."""

from __future__ import annotations

from pathlib import Path

import jinja2.sandbox
import pytest

from policies.notices import environment


def render(folder: Path, source: str) -> str:
    (folder / "notice.j2").write_text(source)
    return environment(folder).get_template("notice.j2").render()


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**9 }}",
        "{{ 10**9 * 'a' }}",
        "{{ [1] * 1000000 }}",
        "{{ 2 ** 100000 }}",
        "{{ 99999999 ** 3 }}",
        "{% set s = 'x' * 99999 %}{{ s * 2 }}",
    ],
)
def test_huge_products_are_refused(tmp_path: Path, source: str) -> None:
    with pytest.raises(jinja2.sandbox.SecurityError):
        render(tmp_path, source)


def test_small_products_still_work(tmp_path: Path) -> None:
    assert render(tmp_path, "{{ 3 * 4 }} {{ 2 ** 10 }} {{ '-' * 20 }} {{ 1.5 * 2 }}") == (
        "12 1024 -------------------- 3.0"
    )
