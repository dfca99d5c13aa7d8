"""Snapshot of an attached, read-only console: the link badge in the header, no acting keys in the footer.

The link is a SocketBus's as it stands after the engine's hello (pid 4242 on /srv/alpha); the
picture is the seeded session, so no timing can make two runs differ.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.alpha_panda_tui.attach_harness import attached_link
from tests.alpha_panda_tui.snapshot_app import WIDE, seeded_app, settle

SnapCompare = Callable[..., bool]


def test_attached_read_only_console(snap_compare: SnapCompare) -> None:
    app = seeded_app(link=attached_link(read_only=True))
    assert snap_compare(app, terminal_size=WIDE, run_before=settle)
