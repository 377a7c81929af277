"""Modals and Home tabs: views.open, views.push (3 deep at most), views.update with its hash
check, views.publish, and closing a modal or its whole stack."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from sandbox.slack.directory import Directory
from sandbox.slack.grants import Grants
from sandbox.slack.records import VIEW_STACK_LIMIT, SlackError, View
from sandbox.slack.shared import Shared


class ViewStore:
    """Every view by id (closed ones stay, marked closed) and each person's Home tab."""

    def __init__(self, shared: Shared, directory: Directory, grants: Grants) -> None:
        self.shared = shared
        self.directory = directory
        self.grants = grants
        self.views: dict[str, View] = {}
        self.home_views: dict[str, View] = {}

    def _new_view(self, user: str, view: dict[str, Any], **kw: Any) -> View:
        vid = f"V{self.shared.next_id():010d}"
        v = View(vid, user, copy.deepcopy(view), self._new_hash(), **kw)
        self.views[vid] = v
        self.shared.changed()
        return v

    def _new_hash(self) -> str:
        return f"{self.shared.clock():.6f}.{secrets.token_hex(4)}"

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> View:
        """views.open: exchange the trigger and open a new modal stack."""
        with self.shared.lock:
            trig = self.grants.use_trigger(trigger_id)
            return self._new_view(trig.user, view)

    def push_view(self, trigger_id: str, view: dict[str, Any]) -> View:
        """views.push: put a modal on top of the user's open stack (3 at most)."""
        with self.shared.lock:
            trig = self.grants.use_trigger(trigger_id)
            top = self.views.get(trig.view_id) if trig.view_id else self.top_view(trig.user)
            if top is None or top.closed:
                raise SlackError("not_found")
            root_id = top.root_view_id or top.id
            if len(self.view_stack(root_id)) >= VIEW_STACK_LIMIT:
                raise SlackError("push_limit_reached")
            return self._new_view(trig.user, view, root_view_id=root_id, previous_view_id=top.id)

    def find_view(self, view_id: str | None = None, external_id: str | None = None) -> View:
        """A modal or home view by id or external_id, or `not_found`."""
        with self.shared.lock:
            for v in self.views.values():
                wanted = (view_id and v.id == view_id) or (
                    external_id and v.external_id == external_id
                )
                if wanted and not v.closed:
                    return v
            raise SlackError("not_found")

    def update_view(
        self,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> View:
        """views.update: replace a view's content when `hash` (if given) still matches."""
        with self.shared.lock:
            v = self.find_view(view_id, external_id)
            if hash is not None and hash != v.hash:
                raise SlackError("hash_conflict")
            v.view = copy.deepcopy(view)
            v.hash = self._new_hash()
            v.errors = {}
            self.shared.changed()
            return v

    def publish_home(self, user: str, view: dict[str, Any], *, hash: str | None = None) -> View:
        """views.publish: set a user's Home tab."""
        with self.shared.lock:
            self.directory.user(user)
            current = self.home_views.get(user)
            if current is not None and hash is not None and hash != current.hash:
                raise SlackError("hash_conflict")
            if current is None:
                current = self._new_view(user, view)
            else:
                current.view = copy.deepcopy(view)
                current.hash = self._new_hash()
            self.home_views[user] = current
            self.shared.changed()
            return current

    def view_stack(self, root_view_id: str) -> list[View]:
        """The open modals of one stack, bottom first."""
        with self.shared.lock:
            return [
                v
                for v in self.views.values()
                if not v.closed and (v.root_view_id or v.id) == root_view_id and v.type == "modal"
            ]

    def top_view(self, user: str) -> View | None:
        """The modal the user is looking at, if any."""
        with self.shared.lock:
            modals = [v for v in self.views.values() if v.user == user and v.type == "modal"]
            open_ = [v for v in modals if not v.closed]
            return open_[-1] if open_ else None

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        """Close one modal, or (clear) its whole stack, as after a submission."""
        with self.shared.lock:
            v = self.find_view(view_id)
            targets = self.view_stack(v.root_view_id or v.id) if clear else [v]
            for t in targets:
                t.closed = True
            self.shared.changed()

    def set_view_errors(self, view_id: str, errors: dict[str, str]) -> None:
        """Keep the field errors of a `response_action: errors` answer for the page to show."""
        with self.shared.lock:
            self.find_view(view_id).errors = dict(errors)
            self.shared.changed()
