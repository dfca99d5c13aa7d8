from __future__ import annotations

import pytest

from engine.storage.url import normalize_database_url, redact_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/alpha", "postgresql+asyncpg://u:p@db:5432/alpha"),
        ("postgres://db/alpha", "postgresql+asyncpg://db/alpha"),
        ("postgresql+psycopg2://db/alpha", "postgresql+asyncpg://db/alpha"),
        ("postgresql+psycopg://db/alpha", "postgresql+asyncpg://db/alpha"),
        ("POSTGRESQL://db/alpha", "postgresql+asyncpg://db/alpha"),
        (
            "postgresql://db/alpha?sslmode=require&application_name=ap",
            "postgresql+asyncpg://db/alpha?ssl=require&application_name=ap",
        ),
        ("postgresql+asyncpg://db/alpha", "postgresql+asyncpg://db/alpha"),
        ("sqlite:///relative.db", "sqlite+aiosqlite:///relative.db"),
        ("sqlite:////abs/alpha.db", "sqlite+aiosqlite:////abs/alpha.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_normalise_gives_the_async_driver(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("given", ["mysql://db/alpha", "oracle+cx_oracle://db", "alpha.db", ""])
def test_unsupported_urls_name_the_supported_drivers(given: str) -> None:
    with pytest.raises(ValueError, match=r"PostgreSQL .* SQLite"):
        normalize_database_url(given)


def test_unsupported_url_error_does_not_echo_a_password() -> None:
    with pytest.raises(ValueError) as info:
        normalize_database_url("mysql://user:hunter2@db/alpha")
    assert "hunter2" not in str(info.value)


def test_redact_hides_the_password() -> None:
    assert redact_url("postgresql://trader:hunter2@db/alpha") == "postgresql://trader:***@db/alpha"
