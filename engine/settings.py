"""Settings: defaults < config.toml (user config dir) < .env < ALPHA_PANDA_* env < arguments.

Nested sections use `__` in environment variables, e.g.
`ALPHA_PANDA_RISK__MAX_QUANTITY=500`. Secrets are SecretStr with no default.
Nothing here is an absolute path: data and config live in the platform's user
dirs unless overridden (`ALPHA_PANDA_DATA_DIR`, `ALPHA_PANDA_CONFIG_DIR`).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import tomllib
from datetime import time as dtime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from engine.bus.inprocess import TickOverflow
from engine.events import Product
from engine.market.calendar import SESSION_CLOSE

if TYPE_CHECKING:
    from engine.instruments import InstrumentRegistry

APP_NAME = "alpha-panda-tui"
ENV_PREFIX = "ALPHA_PANDA_"
CONFIG_FILE_NAME = "config.toml"
PRIVATE_DIR_MODE = 0o700  # the data dir holds the trading history: this user only


def _expand_user(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError:  # `~someone` with no such user: keep the path as written
        return path


def default_config_dir() -> Path:
    override = os.environ.get(f"{ENV_PREFIX}CONFIG_DIR")
    return _expand_user(Path(override)) if override else Path(platformdirs.user_config_dir(APP_NAME))


def default_data_dir() -> Path:
    override = os.environ.get(f"{ENV_PREFIX}DATA_DIR")
    return _expand_user(Path(override)) if override else Path(platformdirs.user_data_dir(APP_NAME))


class FeedSource(StrEnum):
    SIMULATED = "simulated"
    REPLAY = "replay"
    ZERODHA = "zerodha"


class BusKind(StrEnum):
    INPROCESS = "inprocess"
    KAFKA = "kafka"


class FillPrice(StrEnum):
    NEXT_TICK = "next_tick"  # live-like: a market order fills on the next tick
    SIGNAL_TICK = "signal_tick"  # research: fill at the price of the tick that made the signal


def _wall_time(value: object) -> object:
    """An IST wall-clock time is written "HH:MM" (or a TOML local time); a number is not a time."""
    if isinstance(value, dtime):
        if value.tzinfo is not None:
            raise ValueError('write a local time without a time zone, e.g. "09:15"')
        return value
    if isinstance(value, str):
        try:
            parsed = dtime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError('write the time as "HH:MM", e.g. "09:15"') from None
        if parsed.tzinfo is not None:
            raise ValueError('write a local time without a time zone, e.g. "09:15"')
        return parsed
    raise ValueError('write the time as "HH:MM", e.g. "09:15"')


class Section(BaseModel):
    model_config = {"extra": "forbid"}


class FeedSettings(Section):
    source: FeedSource = FeedSource.SIMULATED
    ticks_per_second: float = Field(default=200.0, gt=0, le=1_000_000)
    seed: int = 42
    symbols: list[str] = Field(
        default_factory=list,
        description="trading symbols to stream (the watchlist); empty = every sample instrument;"
        " the zerodha feed also streams the strategies' instruments",
    )
    replay_file: Path | None = None
    session_speed: float = Field(default=1.0, gt=0, description="simulated session seconds per real second")
    session_start: dtime = dtime(9, 15)
    record: bool = Field(default=False, description="record every tick to a CSV in the data dir")

    @field_validator("session_start", mode="before")
    @classmethod
    def _session_time(cls, value: object) -> object:
        return _wall_time(value)

    @field_validator("session_start")
    @classmethod
    def _before_close(cls, value: dtime) -> dtime:
        if value >= SESSION_CLOSE:
            raise ValueError(f"session_start must be before the {SESSION_CLOSE:%H:%M} close")
        return value


class BusSettings(Section):
    kind: BusKind = BusKind.INPROCESS
    queue_size: int = Field(default=10_000, ge=10)
    tick_overflow: TickOverflow = TickOverflow.CONFLATE
    max_retries: int = Field(default=2, ge=0, le=20)
    retry_backoff_ms: float = Field(default=10.0, ge=0)
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_group_prefix: str = "alpha-panda"


class DatabaseSettings(Section):
    url: str = Field(default="", description="empty = SQLite file in the data dir")
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        if value:
            from engine.storage.url import normalize_database_url

            normalize_database_url(value)  # ValueError names the supported schemes
        return value


class StorageSettings(Section):
    flush_interval_ms: float = Field(
        default=200.0,
        gt=0,
        le=60_000,
        description="how often buffered events are written; a kill -9 loses fills published within it",
    )
    max_buffer_events: int = Field(
        default=10_000, ge=100, description="events held in memory before they spill to the journal on disk"
    )
    durable_fills: bool = Field(
        default=False, description="journal and fsync each fill before it is published (costs latency)"
    )
    stop_timeout_s: float = Field(
        default=10.0, ge=0, description="on stop, how long to keep trying a failing database"
    )


class RedisSettings(Section):
    url: str = Field(default="", description="empty = no Redis; caches stay in process")


class RiskSettings(Section):
    max_quantity: int = Field(default=1_000, gt=0)
    max_order_value: float = Field(default=500_000.0, gt=0)
    max_position_value: float = Field(default=1_000_000.0, gt=0)
    max_open_positions: int = Field(default=20, gt=0)
    max_orders_per_minute: int = Field(default=60, gt=0)
    price_band_pct: float = Field(default=2.0, gt=0, description="fat-finger band around last price")
    circuit_limit_pct: float = Field(default=20.0, gt=0, description="day's price band vs previous close")
    max_tick_age_s: float = Field(default=5.0, gt=0, description="feed-staleness gate")
    max_daily_loss_per_strategy: float = Field(default=25_000.0, gt=0)
    max_daily_loss: float = Field(default=100_000.0, gt=0)
    flatten_on_loss_halt: bool = True
    enforce_market_hours: bool = True


class ChargeRates(Section):
    """Zerodha equity rates (published brokerage calculator); percentages are of turnover."""

    brokerage_pct: float = 0.03
    brokerage_cap: float = 20.0
    stt_sell_pct: float = 0.025
    stt_buy_pct: float = 0.0
    exchange_pct: float = 0.00297
    sebi_per_crore: float = 10.0
    gst_pct: float = 18.0
    stamp_buy_pct: float = 0.003


class ChargesSettings(Section):
    enabled: bool = True
    intraday: ChargeRates = ChargeRates()
    delivery: ChargeRates = ChargeRates(
        brokerage_pct=0.0,
        brokerage_cap=0.0,
        stt_sell_pct=0.1,
        stt_buy_pct=0.1,
        stamp_buy_pct=0.015,
    )


class PaperSettings(Section):
    starting_cash: float = Field(default=1_000_000.0, gt=0)
    slippage_bps: float = Field(default=2.0, ge=0)
    latency_ms: float = Field(default=0.0, ge=0)
    partial_fills: bool = True
    stale_quote_s: float = Field(default=5.0, gt=0)
    fill_price: FillPrice = FillPrice.NEXT_TICK
    default_product: Product = Product.MIS
    square_off_time: dtime = dtime(15, 20)

    @field_validator("square_off_time", mode="before")
    @classmethod
    def _square_off_time(cls, value: object) -> object:
        return _wall_time(value)


# NSE's F&O freeze quantities (contracts' units per order); they change, so settings override them
DEFAULT_FREEZE_QUANTITIES: dict[str, int] = {
    "NIFTY": 1800,
    "BANKNIFTY": 900,
    "FINNIFTY": 1800,
    "MIDCPNIFTY": 2800,
    "NIFTYNXT50": 600,
    "SENSEX": 1000,
    "BANKEX": 900,
}


class ZerodhaSettings(Section):
    enabled: bool = False
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    live_orders: bool = Field(
        default=False,
        description="allow real orders; they flow only after `launch --live` and a typed confirmation",
    )
    flatten_on_halt: bool = Field(
        default=False, description="the kill switch also closes live positions with MARKET orders"
    )
    root_url: str = Field(
        default="https://api.kite.trade", description="Kite REST root (the sandbox's for a demo)"
    )
    ws_url: str = Field(default="wss://ws.kite.trade", description="Kite WebSocket ticker URL")
    login_url: str = Field(default="https://kite.zerodha.com/connect/login", description="Kite login page")
    redirect_url: str = Field(
        default="http://127.0.0.1:5010/",
        description="the redirect URL set in your Kite app; a 127.0.0.1 one is caught by `login` itself",
    )
    exchanges: list[str] = Field(default_factory=lambda: ["NSE"], description="instrument dumps to download")
    rest_timeout_s: float = Field(default=7.0, gt=0, le=300, description="time-out of one Kite REST request")
    rest_retries: int = Field(
        default=3, ge=0, le=10, description="retries of a REST call on 429, 5xx or a network error"
    )
    rest_backoff_s: float = Field(default=0.5, ge=0, le=60, description="first retry's delay; doubles each")
    rest_backoff_cap_s: float = Field(default=8.0, ge=0, le=600, description="longest delay between retries")
    rate_limit_per_s: float = Field(
        default=10.0, gt=0, description="Kite REST calls per second (quote etc. aside)"
    )
    quote_rate_per_s: float = Field(default=1.0, gt=0, description="Kite quote/ltp/ohlc calls per second")
    historical_rate_per_s: float = Field(
        default=3.0, gt=0, description="Kite historical-data calls per second"
    )
    order_rate_per_s: float = Field(default=10.0, gt=0, description="Kite order calls per second")
    order_rate_per_min: int = Field(
        default=400, gt=0, description="Kite order calls (place + modify + cancel) per minute"
    )
    order_daily_cap: int = Field(
        default=5_000, gt=0, description="order calls a day; beyond it new live orders are refused"
    )
    rate_window_margin_s: float = Field(
        default=0.05, ge=0, le=1, description="slack added to every Kite rate window, for network jitter"
    )
    market_protection: float = Field(
        default=-1.0,
        description="MARKET/SL-M orders' protection: percent (0-100] off the last price; -1: Kite's own",
    )
    order_poll_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often open live orders are read from Kite while the ticker is down",
    )
    order_lookup_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="order book reads for an order whose place call got no clear answer",
    )
    order_lookup_delay_s: float = Field(default=0.5, ge=0, le=30, description="pause between those reads")
    freeze_quantities: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_FREEZE_QUANTITIES),
        description="F&O freeze quantity per underlying (an order above it is sliced or refused)",
    )
    slice_above_freeze: bool = Field(
        default=True, description="slice an F&O order above the freeze quantity; false: refuse it"
    )
    instruments_timeout_s: float = Field(
        default=60.0, gt=0, description="longest wait for the instruments dumps when the engine starts"
    )
    instruments_published: dtime = Field(
        default=dtime(8, 30),
        description="IST time Kite publishes the day's instruments dump; one fetched before it is refreshed",
    )
    verify_timeout_s: float = Field(
        default=15.0, gt=0, description="longest wait for Kite to confirm the session when the engine starts"
    )
    reconcile_interval_s: float = Field(
        default=180.0,
        ge=5,
        le=3600,
        description="seconds between reconciliations of live orders, trades and positions with Kite",
    )
    silence_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="reconnect the ticker after this long without a frame or heartbeat",
    )
    reconnect_initial_s: float = Field(default=0.5, gt=0, le=60, description="first ticker reconnect delay")
    reconnect_max_s: float = Field(default=30.0, gt=0, le=600, description="longest ticker reconnect delay")

    @field_validator("instruments_published", mode="before")
    @classmethod
    def _published_time(cls, value: object) -> object:
        return _wall_time(value)

    @field_validator("exchanges")
    @classmethod
    def _exchange_names(cls, value: list[str]) -> list[str]:
        names = [name.strip().upper() for name in value]
        bad = [name for name in names if not re.fullmatch(r"[A-Z]{2,10}", name)]
        if bad:
            raise ValueError(f"exchanges are Kite exchange codes such as NSE, BSE, NFO, MCX, not {bad!r}")
        if not names:
            raise ValueError('name at least one exchange, e.g. ["NSE"]')
        return list(dict.fromkeys(names))

    @field_validator("market_protection")
    @classmethod
    def _protection(cls, value: float) -> float:
        if value != -1 and not 0 < value <= 100:
            raise ValueError(
                "market_protection is a percentage above 0 and at most 100, or -1 for Kite's automatic "
                "protection (0 is not allowed: SEBI's rules require protection on API market orders)"
            )
        return value

    @field_validator("freeze_quantities")
    @classmethod
    def _freeze(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {name: qty for name, qty in value.items() if qty <= 0}
        if bad:
            raise ValueError(f"freeze quantities must be positive, not {bad!r}")
        return {name.strip().upper(): qty for name, qty in value.items()}

    @model_validator(mode="after")
    def _live_needs_zerodha(self) -> ZerodhaSettings:
        if self.live_orders and not self.enabled:
            raise ValueError("live_orders = true needs enabled = true (and a Kite API key) in [zerodha]")
        return self


class HealthSettings(Section):
    min_free_disk_mb: float = Field(default=500.0, ge=0)
    max_stage_silence_s: float = Field(default=30.0, gt=0)
    max_backlog: int = Field(default=5_000, gt=0)


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class StrategySettings(Section):
    file: Path | None = Field(default=None, description="strategies TOML; default: config dir, then assets")
    user_dir: Path | None = Field(default=None, description="folder of user strategy modules")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        dotenv_filtering="match_prefix",  # a .env shared with other tools: only ALPHA_PANDA_* is ours
        extra="forbid",
        case_sensitive=False,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    config_dir: Path = Field(default_factory=default_config_dir)
    status_interval_s: float = Field(default=5.0, gt=0)

    feed: FeedSettings = FeedSettings()
    bus: BusSettings = BusSettings()
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    redis: RedisSettings = RedisSettings()
    risk: RiskSettings = RiskSettings()
    charges: ChargesSettings = ChargesSettings()
    paper: PaperSettings = PaperSettings()
    zerodha: ZerodhaSettings = ZerodhaSettings()
    health: HealthSettings = HealthSettings()
    log: LogSettings = LogSettings()
    strategies: StrategySettings = StrategySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = default_config_dir() / CONFIG_FILE_NAME
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @field_validator("data_dir", "config_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return _expand_user(value)

    @model_validator(mode="after")
    def _check_zerodha(self) -> Settings:
        if self.feed.source is FeedSource.REPLAY and self.feed.replay_file is None:
            raise ValueError("feed.source = 'replay' needs feed.replay_file")
        if self.feed.source is FeedSource.ZERODHA:
            missing = []
            if not self.zerodha.enabled:
                missing.append("zerodha.enabled = true")
            if self.zerodha.api_key is None or not self.zerodha.api_key.get_secret_value():
                missing.append("zerodha.api_key")
            if missing:
                raise ValueError(f"feed.source = 'zerodha' needs {' and '.join(missing)}")
        return self

    # -- derived paths ---------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'alpha_panda.db'}"

    @property
    def storage_journal(self) -> Path:
        return self.data_dir / "storage.journal"

    @property
    def fill_journal(self) -> Path:
        return self.data_dir / "fills.journal"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def control_socket(self) -> Path:
        return self.data_dir / "control.sock"

    @property
    def kite_session_file(self) -> Path:
        return self.data_dir / "kite_session.json"

    @property
    def instruments_dir(self) -> Path:
        """Downloaded Kite instrument dumps, one CSV per exchange."""
        return self.data_dir / "instruments"

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE_NAME

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "engine.lock"

    def ensure_dirs(self) -> None:
        """The data dir and its sub-folders, private to this user (0700) whatever the umask."""
        for path in (self.data_dir, self.log_dir, self.recordings_dir):
            path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            if path.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
                path.chmod(PRIVATE_DIR_MODE)


class ConfigError(Exception):
    """Invalid configuration, explained in one screen: which field, what is wrong, how to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(p).upper() for p in loc)


_SECRET_NAME = re.compile(r"key|secret|token|passw|credential|auth", re.IGNORECASE)


def _field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The field a validation error's location points at (None for list items and unknown names)."""
    model: Any = Settings
    info: FieldInfo | None = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not isinstance(part, str) or fields is None or part not in fields:
            return None
        info = fields[part]
        model = info.annotation
    return info


def _is_secret(loc: tuple[int | str, ...]) -> bool:
    if any(_SECRET_NAME.search(str(part)) for part in loc):
        return True
    info = _field_at(loc)
    return info is not None and "SecretStr" in str(info.annotation)


def _known_names(loc: tuple[int | str, ...]) -> list[str]:
    model: Any = Settings
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return []
        model = fields[part].annotation
    fields = getattr(model, "model_fields", None)
    return list(fields) if fields else []


def _shown_input(err: Any, loc: tuple[int | str, ...]) -> str:
    """The offending value, when it is safe to print: never a secret, never an unknown setting's."""
    given = err.get("input")
    if err.get("type") == "extra_forbidden" or _is_secret(loc) or given is None or isinstance(given, dict):
        return ""
    if loc and loc[-1] == "url" and isinstance(given, str):
        from engine.storage.url import redact_url

        return f" (got {redact_url(given)!r})"
    shown = repr(given)
    return f" (got {shown[:80]}{'...' if len(shown) > 80 else ''})"


def _unknown_setting(loc: tuple[int | str, ...], config_file: Path, why: str = "") -> list[str]:
    field = ".".join(str(p) for p in loc)
    parent, name = loc[:-1], str(loc[-1]) if loc else ""
    close = difflib.get_close_matches(name.lower(), _known_names(parent), n=1)
    hint = f" (did you mean `{'.'.join([*map(str, parent), close[0]])}`?)" if close else ""
    return [
        f"  - {field}: unknown setting{why}",
        f"    fix: remove or correct the spelling of `{field}`{hint} in {config_file}"
        f" or the environment variable {_env_name(loc)}",
    ]


def _is_section(info: FieldInfo | None) -> bool:
    annotation = info.annotation if info is not None else None
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def explain_validation_error(exc: ValidationError) -> str:
    lines = ["Invalid configuration:"]
    config_file = default_config_dir() / CONFIG_FILE_NAME
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        field = ".".join(str(p) for p in loc) or "(settings)"
        given = err.get("input")
        info = _field_at(loc) if loc else None
        if err.get("type") == "extra_forbidden":
            lines.extend(_unknown_setting(loc, config_file))
            continue
        if isinstance(given, dict) and info is not None and not _is_structured(info):
            # `risk.max_quantity.x = 1` or ALPHA_PANDA_RISK__MAX_QUANTITY__X: a key under a single value
            why = f" (`{field}` is a single value, not a section)"
            for key in given:
                lines.extend(_unknown_setting((*loc, str(key)), config_file, why))
            continue
        if _is_section(info) and not isinstance(given, dict):
            example = next(iter(_known_names(loc)), "NAME")
            lines.append(f"  - {field}: is a section of settings, not a single value{_shown_input(err, loc)}")
            lines.append(
                f"    fix: set its settings one by one, under [{field}] in {config_file}"
                f" or as {_env_name((*loc, example))} (and so on)"
            )
            continue
        lines.append(f"  - {field}: {err['msg']}{_shown_input(err, loc)}")
        if loc:
            lines.append(
                f"    fix: set a valid value for `{field}` in {config_file}"
                f" or the environment variable {_env_name(loc)}"
            )
        else:
            lines.append(f"    fix: check {config_file} and ALPHA_PANDA_* variables")
    return "\n".join(lines)


def _is_structured(info: FieldInfo | None) -> bool:
    """A list, dict or section: its environment value must be JSON."""
    if info is None:
        return False
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return getattr(annotation, "__origin__", None) in (list, dict, tuple, set)


def _non_json_env_vars(field: str) -> list[str]:
    import json

    from dotenv import dotenv_values

    values: dict[str, str | None] = {}
    with contextlib.suppress(Exception):  # an unreadable .env is reported on its own
        values.update(dotenv_values(".env"))
    values.update(os.environ)
    found = []
    for name, value in values.items():
        if not name.upper().startswith(f"{ENV_PREFIX}{field.upper()}"):
            continue
        loc = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        if not _is_structured(_field_at(loc)):
            continue
        try:
            json.loads(value or "")
        except ValueError:
            found.append(name)
    return sorted(set(found))


def _explain_source_error(exc: SettingsError) -> str:
    match = re.search(r'field "([^"]+)" from source "([^"]+)"', str(exc))
    field, source = (match.group(1), match.group(2)) if match else ("", "")
    where = ".env" if source.startswith("DotEnv") else "the environment"
    culprits = _non_json_env_vars(field) if field else []
    named = ", ".join(culprits) if culprits else f"{ENV_PREFIX}{field.upper()}__*"
    example = culprits[0] if culprits else f"{ENV_PREFIX}FEED__SYMBOLS"
    return (
        "Invalid configuration:\n"
        f"  - {field or '(settings)'}: a value in {where} is not valid JSON ({named})\n"
        f'    fix: list and section values are JSON, e.g. {example}=\'["NTPC", "INFY"]\''
        f" for a list; or set the single field, e.g. {ENV_PREFIX}FEED__SEED=7"
    )


def _check_symbols(settings: Settings) -> None:
    from engine.instruments import InstrumentRegistry

    if settings.zerodha.enabled and settings.feed.source is FeedSource.ZERODHA:
        return  # Kite's instruments: the engine checks them against the day's dump, not yet at hand here
    check_feed_symbols(settings, InstrumentRegistry.sample())


def check_feed_symbols(settings: Settings, registry: InstrumentRegistry) -> None:
    """ConfigError naming every `feed.symbols` entry the registry does not know."""
    from engine.instruments import UnknownInstrument

    if not settings.feed.symbols:
        return
    unknown = []
    for symbol in settings.feed.symbols:
        try:
            registry.by_symbol(symbol)
        except UnknownInstrument:
            unknown.append(symbol)
    if unknown:
        symbols = sorted(i.tradingsymbol for i in registry.select([]))
        known = ", ".join(symbols[:12])
        close = [m for s in unknown for m in difflib.get_close_matches(s.upper(), symbols, n=1)]
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ConfigError(
            "Invalid configuration:\n"
            f"  - feed.symbols: unknown trading symbol(s) {', '.join(map(repr, unknown))}{hint}\n"
            f"    fix: use symbols from the instrument list (e.g. {known}, ...) in"
            f" {default_config_dir() / CONFIG_FILE_NAME} or {ENV_PREFIX}FEED__SYMBOLS,"
            " or leave feed.symbols empty for every instrument"
        )


def _not_utf8(*paths: Path) -> str:
    for path in paths:
        with contextlib.suppress(OSError):
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                return str(path.resolve())
    return " or ".join(str(p) for p in paths)


def _env_name_hint(name: str) -> str:
    """The name an unknown ALPHA_PANDA_* variable was probably meant to have ("" if none is close)."""
    loc: list[str] = []
    for part in name[len(ENV_PREFIX) :].lower().split("__"):
        known = _known_names(tuple(loc))
        if part not in known:
            close = difflib.get_close_matches(part, known, n=1)
            part = close[0] if close else part
        loc.append(part)
    guess = _env_name(tuple(loc))
    return guess if guess != name.upper() and loc[0] in Settings.model_fields else ""


def _check_env_names(dotenv: Path) -> None:
    """An ALPHA_PANDA_* variable that names no setting is a mistake (pydantic would ignore it)."""
    from dotenv import dotenv_values

    found = [(name, "the environment") for name in os.environ]
    if dotenv.is_file():
        found += [(name, str(dotenv.resolve())) for name in dotenv_values(dotenv)]
    lines = []
    for name, where in found:
        top = name[len(ENV_PREFIX) :].split("__")[0].lower()
        if not name.upper().startswith(ENV_PREFIX) or top in Settings.model_fields:
            continue
        hint = _env_name_hint(name)
        lines.append(f"  - {name} (in {where}): unknown setting{f' (did you mean {hint}?)' if hint else ''}")
        if where == "the environment":
            lines.append(f"    fix: correct its name, or remove it: unset {name}")
        else:
            lines.append(f"    fix: correct its name, or remove that line of {where}")
    if lines:
        raise ConfigError("\n".join(["Invalid configuration:", *lines]))


def _check_dotenv(path: Path) -> None:
    """A .env line python-dotenv cannot parse is dropped with only a warning; make it an error.

    The line is named by number, never shown: it may hold a secret.
    """
    from dotenv.parser import parse_stream

    if not path.is_file():
        return
    with path.open(encoding="utf-8") as stream:
        bad = [binding.original.line for binding in parse_stream(stream) if binding.error]
    if bad:
        lines = ", ".join(map(str, bad))
        raise ConfigError(
            f"Invalid configuration: {path.resolve()} line{'s' if len(bad) > 1 else ''} {lines}"
            " cannot be read as NAME=value (an unclosed quote, or text after a closing quote?)\n"
            f"    fix: correct {'those lines' if len(bad) > 1 else 'that line'} of {path.resolve()}"
        )


def load_settings(**overrides: Any) -> Settings:
    """Build Settings; any configuration problem becomes a ConfigError with one clear message."""
    config_file = default_config_dir() / CONFIG_FILE_NAME
    try:
        _check_dotenv(Path(".env"))
        _check_env_names(Path(".env"))
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(explain_validation_error(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Invalid configuration: {config_file} is not valid TOML: {exc}\n"
            f"    fix: correct that line of {config_file} (or move the file aside to use the defaults)"
        ) from None
    except SettingsError as exc:
        raise ConfigError(_explain_source_error(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"Invalid configuration: {_not_utf8(config_file, Path('.env'))} is not UTF-8 text\n"
            "    fix: save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Invalid configuration: cannot read {exc.filename or config_file}: {exc.strerror or exc}\n"
            "    fix: make it a readable file, or move it aside to use the defaults"
        ) from None
    _check_symbols(settings)
    return settings
