"""Slack files and the "Add evidence" modal's answers as evidence drafts."""

from __future__ import annotations

import httpx
import pytest

from domain.evidence import EvidenceKind
from handlers.add_evidence import evidence_drafts
from handlers.files import FileShareError, download, file_draft

PHOTO = {
    "id": "F0PHOTO",
    "name": "lid.jpg",
    "mimetype": "image/jpeg",
    "size": 2048,
    "permalink": "https://example.slack.com/files/U0MANAGER1/F0PHOTO/lid.jpg",
    "url_private": "https://files.slack.com/files-pri/T0-F0PHOTO/lid.jpg",
}
PDF = {"id": "F0PDF", "title": "Receipt", "mimetype": "application/pdf", "url_private": "u"}


def test_a_shared_image_is_a_photo_of_the_item_and_links_to_its_permalink() -> None:
    draft = file_draft(PHOTO, "U0MANAGER1")
    assert draft.kind is EvidenceKind.PROOF_OF_DAMAGE
    assert draft.source == "slack:U0MANAGER1"
    assert draft.url == PHOTO["permalink"]
    assert draft.payload["photos"] == [PHOTO["permalink"]]
    assert draft.payload["file_id"] == "F0PHOTO"
    assert draft.summary == "lid.jpg shared by <@U0MANAGER1>"


def test_any_other_file_is_an_attachment_named_by_its_title_when_it_has_no_name() -> None:
    draft = file_draft(PDF, "U0AGENT")
    assert draft.kind is EvidenceKind.ATTACHMENT
    assert draft.url == "u"  # no permalink: the private URL
    assert "photos" not in draft.payload
    assert draft.summary.startswith("Receipt shared by")


def test_the_modal_files_one_item_per_file_with_the_chosen_kind_note_and_link() -> None:
    drafts = evidence_drafts(
        EvidenceKind.CONDITION_REPORT,
        "Warehouse photos",
        "https://wh.example/r/9",
        [PHOTO, PDF],
        "U1",
    )
    assert [d.kind for d in drafts] == [EvidenceKind.CONDITION_REPORT] * 2
    assert [d.summary for d in drafts] == [
        "Warehouse photos (lid.jpg)",
        "Warehouse photos (Receipt)",
    ]
    assert {d.payload["link"] for d in drafts} == {"https://wh.example/r/9"}
    assert {d.payload["note"] for d in drafts} == {"Warehouse photos"}
    assert drafts[0].payload["photos"] == [PHOTO["permalink"]]


def test_without_files_the_modal_files_the_note_and_link_alone() -> None:
    (draft,) = evidence_drafts(
        EvidenceKind.RETURN_TRACKING_INFORMATION, "Carrier says lost", None, [], "U1"
    )
    assert draft.kind is EvidenceKind.RETURN_TRACKING_INFORMATION
    assert (draft.summary, draft.url) == ("Carrier says lost", None)
    assert draft.payload == {"note": "Carrier says lost", "link": None}


async def test_reading_a_file_refuses_slacks_sign_in_page_and_a_file_without_address() -> None:
    def slack(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != "Bearer xoxb-t":
            return httpx.Response(401)
        if request.url.path.endswith("lid.jpg"):
            return httpx.Response(200, content=b"\xff\xd8", headers={"Content-Type": "image/jpeg"})
        return httpx.Response(
            200, text="<html>Sign in</html>", headers={"Content-Type": "text/html"}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(slack)) as http:
        photo = {**PHOTO, "url_private_download": "https://files.slack.com/dl/lid.jpg"}
        read = await download(http, "xoxb-t", photo)
        assert read == {"content": b"\xff\xd8", "filename": "lid.jpg", "title": "lid.jpg"}
        pdf = {**PDF, "name": "r.pdf", "url_private_download": "https://files.slack.com/dl/r.pdf"}
        with pytest.raises(FileShareError, match="did not let the app read it"):
            await download(http, "xoxb-t", pdf)
        with pytest.raises(FileShareError, match="no address"):
            await download(http, "xoxb-t", {"id": "F1", "name": "x.png"})
