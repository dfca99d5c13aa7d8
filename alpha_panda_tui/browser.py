"""Opening Kite's login page in a browser, where there is one to open it on."""

from __future__ import annotations

import asyncio
import os
import sys
import webbrowser


def can_open_browser() -> bool:
    """Not over SSH, and on Linux/BSD only with a display: a browser would open on nobody's screen."""
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    if sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


async def open_in_browser(url: str) -> bool:
    """Open the URL (off the event loop: a browser can take a while to start); False if none opened it."""
    if not can_open_browser():
        return False
    return await asyncio.to_thread(webbrowser.open, url)
