"""response_urls: what an answer posted there does, and how long and how often one works."""

from __future__ import annotations

import httpx

from sandbox.slack.workspace import Workspace
from tests.support.emulator import FakeClock


async def test_a_response_url_answers_the_person_or_the_whole_channel(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    token = ws.mint_response_url("C0DISPUTES", "U0MANAGER1")
    first = await http.post(f"/_sandbox/response/{token}", json={"text": "only you"})
    assert first.json() == {"ok": True}
    assert [(e.text, e.via) for e in ws.ephemerals_for("U0MANAGER1")] == [
        ("only you", "response_url")
    ]
    await http.post(
        f"/_sandbox/response/{token}", json={"text": "everyone", "response_type": "in_channel"}
    )
    assert [m.text for m in ws.history("C0DISPUTES")] == ["everyone"]


async def test_a_response_url_rewrites_or_removes_its_message(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    card = ws.post_message("C0DISPUTES", text="card v1")
    token = ws.mint_response_url("C0DISPUTES", "U0MANAGER1", message_ts=card.ts)
    await http.post(
        f"/_sandbox/response/{token}", json={"replace_original": True, "text": "card v2"}
    )
    assert ws.message("C0DISPUTES", card.ts).text == "card v2"
    await http.post(f"/_sandbox/response/{token}", json={"delete_original": True})
    assert ws.message("C0DISPUTES", card.ts) is None


async def test_a_response_url_works_five_times_then_is_used(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    token = ws.mint_response_url("C0DISPUTES", "U0AGENT")
    for _ in range(5):
        assert (
            await http.post(f"/_sandbox/response/{token}", json={"text": "x"})
        ).status_code == 200
    used = await http.post(f"/_sandbox/response/{token}", json={"text": "x"})
    assert used.status_code == 404
    assert used.json() == {"ok": False, "error": "used_url"}


async def test_a_response_url_expires_after_thirty_minutes(
    ws: Workspace, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = ws.mint_response_url("C0DISPUTES", "U0AGENT")
    clock.now += 30 * 60 + 1
    expired = await http.post(f"/_sandbox/response/{token}", json={"text": "late"})
    assert expired.status_code == 404
    assert expired.json() == {"ok": False, "error": "expired_url"}
    assert ws.ephemerals_for("U0AGENT") == []
