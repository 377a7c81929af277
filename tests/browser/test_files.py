"""Files on the workspace page: attached in a dispute's thread, and chosen in a modal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.slack.server import EmulatorServer
from tests.browser.conftest import ARTIFACTS
from tests.support.emulator import PNG


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

    # The app files it: the evidence card names it.
    card = thread.locator(".msg", has_text="Evidence · ").first
    card.get_by_text("crushed-box.png").first.wait_for()

    # "Add evidence": kind, note and a file chosen in the modal; the chosen file goes up
    # first, the submission carries it, and the card names it too.
    receipt = tmp_path / "receipt.png"
    receipt.write_bytes(PNG)
    thread.get_by_role("button", name="Add evidence").first.click()
    modal = page.locator("#modal")
    modal.get_by_text("What it shows").wait_for()
    modal.locator('[data-block-id="kind"] select').select_option("PROOF_OF_DAMAGE")
    modal.get_by_label("What it shows").fill("Warehouse re-inspection")
    files = modal.get_by_label("Files")
    assert files.get_attribute("multiple") is not None  # up to ten at once
    files.set_input_files(str(receipt))
    page.locator("#modal-submit").click()
    modal.wait_for(state="hidden")
    card.get_by_text("receipt.png").first.wait_for()
    # Chosen in the modal by Max (private to him), copied into the thread by the app.
    uploaded = [f for f in emulator.workspace.files.values() if f.name == "receipt.png"]
    assert [(f.user, len(f.content)) for f in uploaded] == [
        ("U0MANAGER1", len(PNG)),
        (emulator.workspace.bot_user_id, len(PNG)),
    ]
    thread.locator(".file-chip", has_text="receipt.png").wait_for()
