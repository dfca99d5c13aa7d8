"""Strategy kinds: the built-ins, user modules from a folder, and installed entry points."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from engine.strategies.base import Strategy
from engine.strategies.ema_crossover import EmaCrossover
from engine.strategies.errors import StrategyConfigError
from engine.strategies.mean_reversion import MeanReversion
from engine.strategies.momentum import Momentum
from engine.strategies.rsi import Rsi
from engine.strategies.sma_crossover import SmaCrossover

ENTRY_POINT_GROUP = "alpha_panda_tui.strategies"
USER_MODULE_PREFIX = "alpha_panda_user_strategies"

BUILTIN_STRATEGIES: tuple[type[Strategy], ...] = (SmaCrossover, EmaCrossover, Momentum, MeanReversion, Rsi)


class StrategyRegistry:
    """kind -> Strategy class, remembering where each kind came from."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Strategy]] = {}
        self._origins: dict[str, str] = {}

    def register(self, cls: type[Strategy], origin: str = "") -> None:
        origin = origin or cls.__module__
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise StrategyConfigError(f"{origin}: {cls!r} is not a Strategy subclass")
        if not cls.kind:
            raise StrategyConfigError(f"{origin}: {cls.__name__} has no `kind`; set kind = 'a_short_name'")
        if inspect.isabstract(cls):
            raise StrategyConfigError(f"{origin}: {cls.__name__} does not implement on_tick")
        known = self._classes.get(cls.kind)
        if known is cls:
            return
        if known is not None:
            raise StrategyConfigError(
                f"{origin}: strategy kind {cls.kind!r} ({cls.__name__}) is already registered by "
                f"{self._origins[cls.kind]}; give it another kind"
            )
        self._classes[cls.kind] = cls
        self._origins[cls.kind] = origin

    def get(self, kind: str) -> type[Strategy]:
        """The class for a kind; KeyError listing the known kinds if unknown."""
        try:
            return self._classes[kind]
        except KeyError:
            known = ", ".join(self.kinds())
            raise KeyError(f"unknown strategy kind {kind!r}; known kinds: {known}") from None

    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._classes))

    def origin(self, kind: str) -> str:
        return self._origins[kind]

    def __contains__(self, kind: object) -> bool:
        return kind in self._classes

    def __len__(self) -> int:
        return len(self._classes)

    # -- discovery ----------------------------------------------------------
    def load_folder(self, folder: Path) -> list[type[Strategy]]:
        """Import every `*.py` in the folder (sorted) and register its Strategy subclasses with a kind.

        A missing folder is no error (nothing to load). Classes merely
        imported into a module (e.g. a built-in it extends) are not
        registered again from there.
        """
        if not folder.is_dir():
            return []
        found: list[type[Strategy]] = []
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module = _import_file(path)
            for cls in _strategy_classes(module):
                self.register(cls, origin=str(path))
                found.append(cls)
        return found

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[type[Strategy]]:
        """Register strategies from installed packages' entry points (a class, or a module of them)."""
        found: list[type[Strategy]] = []
        for ep in entry_points(group=group):
            origin = f"entry point {ep.name!r} ({ep.value}) in group {group!r}"
            try:
                target = ep.load()
            except Exception as exc:
                raise StrategyConfigError(
                    f"{origin}: cannot be loaded: {type(exc).__name__}: {exc}; fix or uninstall the package"
                ) from exc
            classes = _strategy_classes(target) if isinstance(target, ModuleType) else [target]
            for cls in classes:
                self.register(cls, origin=origin)
                found.append(cls)
        return found


def builtin_registry() -> StrategyRegistry:
    registry = StrategyRegistry()
    for cls in BUILTIN_STRATEGIES:
        registry.register(cls, origin="built-in")
    return registry


def full_registry(user_dir: Path | None, *, with_entry_points: bool = True) -> StrategyRegistry:
    """Built-ins, then the user folder, then entry points."""
    registry = builtin_registry()
    if user_dir is not None:
        registry.load_folder(user_dir)
    if with_entry_points:
        registry.load_entry_points()
    return registry


def _import_file(path: Path) -> ModuleType:
    name = f"{USER_MODULE_PREFIX}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise StrategyConfigError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # classes defined there must be importable by name (pickling, dataclasses)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise StrategyConfigError(
            f"{path}: user strategy module failed to import: {type(exc).__name__}: {exc}; "
            "fix the module or move it out of the strategies folder"
        ) from exc
    return module


def _strategy_classes(module: ModuleType) -> Iterable[type[Strategy]]:
    for obj in vars(module).values():
        if (
            isinstance(obj, type)
            and issubclass(obj, Strategy)
            and obj.__module__ == module.__name__
            and obj.kind
            and not inspect.isabstract(obj)
        ):
            yield obj
