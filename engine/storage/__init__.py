"""Storage: SQLAlchemy 2 async on SQLite (default) or PostgreSQL, migrations, a batched writer."""

from engine.storage.database import Database, DatabaseNotConnected
from engine.storage.migrations import MIGRATIONS, Migration, SchemaTooNewError, migrate, schema_version
from engine.storage.models import OrderStatus
from engine.storage.repository import (
    ChargesLedger,
    DbStateStore,
    OrderRecord,
    charges_ledger,
    fill_count,
    load_fills,
    recent_orders,
    trace,
)
from engine.storage.url import normalize_database_url, redact_url
from engine.storage.writer import StorageWriter

__all__ = [
    "MIGRATIONS",
    "ChargesLedger",
    "Database",
    "DatabaseNotConnected",
    "DbStateStore",
    "Migration",
    "OrderRecord",
    "OrderStatus",
    "SchemaTooNewError",
    "StorageWriter",
    "charges_ledger",
    "fill_count",
    "load_fills",
    "migrate",
    "normalize_database_url",
    "recent_orders",
    "redact_url",
    "schema_version",
    "trace",
]
