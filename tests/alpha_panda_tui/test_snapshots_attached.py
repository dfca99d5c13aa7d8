"""Snapshot of an attached, read-only console: the link badge in the header, no acting keys in the footer.

The link is a SocketBus's as it stands after the engine's hello (pid 4242 on /srv/alpha); the
picture is the seeded session, so no timing can make two runs differ.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alpha_panda_tui.attach_cli import SocketLink
from alpha_panda_tui.attach_link import LinkState, SocketBus
from engine.control_stream import Hello
from engine.events import Namespace
from tests.alpha_panda_tui.snapshot_app import WIDE, seeded_app, settle

SnapCompare = Callable[..., bool]


def attached_link(*, read_only: bool) -> SocketLink:
    bus = SocketBus(Path("/srv/alpha/control.sock"), read_only=read_only)
    bus.link.state = LinkState.ATTACHED
    bus.link.attaches = 1
    bus.link.hello = Hello(
        pid=4242,
        run_id="run-1",
        data_dir="/srv/alpha",
        namespaces=(Namespace.PAPER,),
        version="test",
        read_only=read_only,
        started_at=0.0,
    )
    return SocketLink(bus)


def test_attached_read_only_console(snap_compare: SnapCompare) -> None:
    app = seeded_app(link=attached_link(read_only=True))
    assert snap_compare(app, terminal_size=WIDE, run_before=settle)
