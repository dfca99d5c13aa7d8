"""The engine never imports Textual (it runs headless and as its own service), nor does the UI model."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[2]


def _imports_textual(modules: list[str]) -> list[str]:
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [line for line in result.stdout.splitlines() if line]


def test_no_engine_module_imports_textual() -> None:
    modules = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, prefix="engine."))
    assert len(modules) > 20  # really every module, not an empty walk
    assert _imports_textual(modules) == []


def test_the_ui_model_and_bridge_do_not_import_textual() -> None:
    assert _imports_textual(["alpha_panda_tui.ui_state", "alpha_panda_tui.bridge"]) == []


def test_the_probe_would_see_textual() -> None:
    assert "textual" in _imports_textual(["alpha_panda_tui.app"])
