"""The key map and the screenshot in docs/ are the ones the code makes."""

from __future__ import annotations

from pathlib import Path

from viewmodels.keys import keys_markdown

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests/alpha_panda_tui/__snapshots__/test_snapshots_dashboard/test_dashboard_wide.svg"


def test_docs_keys_md_is_generated_from_the_key_table() -> None:
    # regenerate with: python -m viewmodels.keys > docs/keys.md
    assert (ROOT / "docs/keys.md").read_text(encoding="utf-8") == keys_markdown()


def test_docs_screenshot_is_the_current_dashboard_snapshot() -> None:
    # refresh by copying SNAPSHOT over docs/screenshot.svg
    assert (ROOT / "docs/screenshot.svg").read_bytes() == SNAPSHOT.read_bytes()
