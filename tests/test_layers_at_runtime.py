"""What the import-linter contracts (pyproject.toml, run by .ci/run) cannot see: the modules actually loaded.

The contracts read import statements. A third-party package that loads Textual itself, or a module
imported by name at run time, would pass them; importing every engine module, the view models, the
UI state and the bridge in a fresh interpreter and looking at `sys.modules` would not.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine
import viewmodels

ROOT = Path(__file__).resolve().parents[1]


def _loaded_ui_modules(modules: list[str]) -> list[str]:
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('\\n'.join(sorted(m for m in sys.modules\n"
        "                        if m.split('.')[0] in ('textual', 'widgets', 'alpha_panda_tui'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [line for line in result.stdout.splitlines() if line]


def test_the_engine_loads_neither_textual_nor_the_ui() -> None:
    modules = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, prefix="engine."))
    assert len(modules) > 20  # really every module, not an empty walk
    assert _loaded_ui_modules(modules) == []


def test_the_view_models_ui_state_and_bridge_load_no_textual() -> None:
    modules = sorted(m.name for m in pkgutil.walk_packages(viewmodels.__path__, prefix="viewmodels."))
    loaded = _loaded_ui_modules([*modules, "alpha_panda_tui.ui_state", "alpha_panda_tui.bridge"])
    assert [m for m in loaded if m.split(".")[0] in ("textual", "widgets")] == []


def test_the_probe_would_see_textual() -> None:
    assert "textual" in _loaded_ui_modules(["alpha_panda_tui.app"])


def test_the_cli_starts_without_the_kite_client_or_the_sandbox() -> None:
    # kiteconnect brings Twisted, the sandbox aiohttp: a paper `launch` must not pay for either
    script = (
        "import sys, alpha_panda_tui.cli\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules}\n"
        "                      & {'kiteconnect', 'twisted', 'aiohttp', 'kite_sandbox'})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
