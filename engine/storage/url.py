"""One database URL normaliser, so a plain `postgresql://` or `sqlite:///` URL still gets its async driver."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

POSTGRES_ASYNC = "postgresql+asyncpg"
SQLITE_ASYNC = "sqlite+aiosqlite"

_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"})
_SQLITE_SCHEMES = frozenset({"sqlite", "sqlite+pysqlite"})
_ASYNC_SCHEMES = frozenset({POSTGRES_ASYNC, SQLITE_ASYNC})

SUPPORTED = (
    "supported databases: PostgreSQL (postgresql://, postgres://, postgresql+psycopg2://, "
    "postgresql+psycopg:// or postgresql+asyncpg://; always run with asyncpg) and SQLite "
    "(sqlite:/// or sqlite+aiosqlite:///; run with aiosqlite)"
)


def _scheme(url: str) -> str:
    scheme, sep, _rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL (no '://'); {SUPPORTED}")
    return scheme.lower()


def normalize_database_url(url: str) -> str:
    """The async-driver form of a database URL; ValueError for an unsupported one."""
    url = url.strip()
    scheme = _scheme(url)
    rest = url.partition("://")[2]
    if scheme in _ASYNC_SCHEMES:
        return url
    if scheme in _POSTGRES_SCHEMES:
        return f"{POSTGRES_ASYNC}://{_libpq_query_to_asyncpg(rest)}"
    if scheme in _SQLITE_SCHEMES:
        return f"{SQLITE_ASYNC}://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}; {SUPPORTED}")


def _libpq_query_to_asyncpg(rest: str) -> str:
    # libpq spells it `sslmode`; asyncpg takes the same values as `ssl`
    location, sep, query = rest.partition("?")
    if not sep:
        return rest
    params = [f"ssl={p[8:]}" if p.startswith("sslmode=") else p for p in query.split("&")]
    return f"{location}?{'&'.join(params)}"


def redact_url(url: str) -> str:
    """The URL with its password hidden: safe for logs and health messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def url_password(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None
