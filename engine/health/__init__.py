"""Health: one registry of checks, each of which looks at the real thing."""

from engine.health.checks import (
    BrokerSessionCheck,
    ConfigCheck,
    DatabaseCheck,
    DiskSpaceCheck,
    MarketStatusCheck,
    PipelineFlowCheck,
    RedisCheck,
    StorageWriterCheck,
)
from engine.health.registry import CheckResult, CheckStatus, HealthCheck, HealthRegistry, overall

__all__ = [
    "BrokerSessionCheck",
    "CheckResult",
    "CheckStatus",
    "ConfigCheck",
    "DatabaseCheck",
    "DiskSpaceCheck",
    "HealthCheck",
    "HealthRegistry",
    "MarketStatusCheck",
    "PipelineFlowCheck",
    "RedisCheck",
    "StorageWriterCheck",
    "overall",
]
