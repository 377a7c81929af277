"""Files on the workspace page: attached in a dispute's thread, and chosen in a modal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sandbox.server import EmulatorServer
from tests.browser.conftest import ARTIFACTS

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d0a0b5"
    "0000000049454e44ae426082"
)
FILES_MODAL = {
    "type": "modal",
    "callback_id": "sandbox.files",
    "title": {"type": "plain_text", "text": "Add evidence"},
    "submit": {"type": "plain_text", "text": "Add"},
    "blocks": [
        {
            "type": "input",
            "block_id": "file",
            "label": {"type": "plain_text", "text": "Photos"},
            "element": {"type": "file_input", "action_id": "file", "filetypes": ["png"]},
        }
    ],
}


def test_attach_a_file_in_a_thread_and_choose_files_in_a_modal(
    page: Any, emulator: EmulatorServer, tmp_path: Path
) -> None:
    photo = tmp_path / "crushed-box.png"
    photo.write_bytes(PNG)
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1002 damaged the corner was crushed")
    composer.press("Enter")
    parent = page.locator("#messages .msg.has-replies", has_text="ORD-1002")
    parent.get_by_role("button", name="replies").click()
    thread = page.locator("#thread-messages")
    thread.get_by_text("Evidence · ").first.wait_for()

    # Attached in the thread: a file_share reply with a chip linking to the permalink.
    page.get_by_label("Attach a file to this thread").set_input_files(str(photo))
    page.get_by_label("Comment (optional)").fill("as it arrived")
    page.get_by_role("button", name="Upload").click()
    chip = thread.locator(".file-chip", has_text="crushed-box.png")
    chip.wait_for()
    assert "PNG" in chip.inner_text()
    assert chip.locator("img.file-thumb").count() == 1
    assert chip.get_attribute("href").startswith(emulator.base_url + "/files/U0MANAGER1/")
    thread.get_by_text("as it arrived").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "thread-file.png"))

    # A modal's file_input: the chosen files go up first, the submission carries them.
    ws = emulator.workspace
    view = ws.open_view(ws.mint_trigger("U0MANAGER1"), FILES_MODAL)
    field = page.locator("#modal").get_by_label("Photos")
    assert field.get_attribute("accept") == ".png" and field.get_attribute("multiple") is not None
    field.set_input_files(str(photo))
    page.locator("#modal-submit").click()
    deadline = time.monotonic() + 10
    while not (submitted := view.state["values"].get("file")):
        assert time.monotonic() < deadline, "the modal was never submitted"
        time.sleep(0.05)
    files = submitted["file"]["files"]
    assert [(f["name"], f["user"], f["size"]) for f in files] == [
        ("crushed-box.png", "U0MANAGER1", len(PNG))
    ]
