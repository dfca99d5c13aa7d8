"""Settings: defaults < config.toml (user config dir) < .env < ALPHA_PANDA_* env < arguments.

Nested sections use `__` in environment variables, e.g.
`ALPHA_PANDA_RISK__MAX_QUANTITY=500`. Secrets are SecretStr with no default.
Nothing here is an absolute path: data and config live in the platform's user
dirs unless overridden (`ALPHA_PANDA_DATA_DIR`, `ALPHA_PANDA_CONFIG_DIR`).
"""

from __future__ import annotations

import os
from datetime import time as dtime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.bus.inprocess import TickOverflow
from engine.events import Product

APP_NAME = "alpha-panda-tui"
ENV_PREFIX = "ALPHA_PANDA_"
CONFIG_FILE_NAME = "config.toml"


def default_config_dir() -> Path:
    override = os.environ.get(f"{ENV_PREFIX}CONFIG_DIR")
    return Path(override).expanduser() if override else Path(platformdirs.user_config_dir(APP_NAME))


def default_data_dir() -> Path:
    override = os.environ.get(f"{ENV_PREFIX}DATA_DIR")
    return Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))


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


class Section(BaseModel):
    model_config = {"extra": "forbid"}


class FeedSettings(Section):
    source: FeedSource = FeedSource.SIMULATED
    ticks_per_second: float = Field(default=200.0, gt=0, le=1_000_000)
    seed: int = 42
    symbols: list[str] = Field(
        default_factory=list, description="trading symbols to stream; empty = every sample instrument"
    )
    replay_file: Path | None = None
    session_speed: float = Field(default=1.0, gt=0, description="simulated session seconds per real second")
    session_start: dtime = dtime(9, 15)
    record: bool = Field(default=False, description="record every tick to a CSV in the data dir")


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


class ZerodhaSettings(Section):
    enabled: bool = False
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    live_orders: bool = Field(default=False, description="explicit opt-in to send real orders")
    root_url: str = "https://api.kite.trade"


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
        return value.expanduser()

    @model_validator(mode="after")
    def _check_zerodha(self) -> Settings:
        if self.zerodha.live_orders and not self.zerodha.enabled:
            raise ValueError("zerodha.live_orders needs zerodha.enabled = true")
        if self.feed.source is FeedSource.REPLAY and self.feed.replay_file is None:
            raise ValueError("feed.source = 'replay' needs feed.replay_file")
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
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE_NAME

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.log_dir, self.recordings_dir):
            path.mkdir(parents=True, exist_ok=True)


class ConfigError(Exception):
    """Invalid configuration, explained in one screen: which field, what is wrong, how to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(p).upper() for p in loc)


def explain_validation_error(exc: ValidationError) -> str:
    lines = ["Invalid configuration:"]
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        field = ".".join(str(p) for p in loc) or "(settings)"
        given = err.get("input")
        shown = "" if isinstance(given, dict) or given is None else f" (got {given!r})"
        lines.append(f"  - {field}: {err['msg']}{shown}")
        if loc:
            lines.append(
                f"    fix: set a valid value for `{field}` in {default_config_dir() / CONFIG_FILE_NAME}"
                f" or the environment variable {_env_name(loc)}"
            )
        else:
            lines.append(
                f"    fix: check {default_config_dir() / CONFIG_FILE_NAME} and ALPHA_PANDA_* variables"
            )
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning a validation error into a ConfigError with a clear message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(explain_validation_error(exc)) from None
