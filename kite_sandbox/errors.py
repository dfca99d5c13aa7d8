"""Kite's error envelope: `{"status": "error", "message", "data": null, "error_type"}` with an HTTP status."""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web


class ErrorType(StrEnum):
    """The `error_type`s Kite answers with (each maps to an exception class of the official client)."""

    TOKEN = "TokenException"
    INPUT = "InputException"
    ORDER = "OrderException"
    NETWORK = "NetworkException"
    DATA = "DataException"
    PERMISSION = "PermissionException"
    GENERAL = "GeneralException"


_TYPE_BY_STATUS = {
    400: ErrorType.INPUT,
    403: ErrorType.TOKEN,
    404: ErrorType.GENERAL,
    405: ErrorType.GENERAL,
    429: ErrorType.NETWORK,
    500: ErrorType.GENERAL,
    502: ErrorType.NETWORK,
    503: ErrorType.NETWORK,
    504: ErrorType.NETWORK,
}


def error_type_for(status: int) -> ErrorType:
    """The error_type Kite pairs with an HTTP status when nothing more specific applies."""
    return _TYPE_BY_STATUS.get(status, ErrorType.GENERAL)


class KiteError(Exception):
    """An error a handler answers with, in Kite's envelope."""

    def __init__(self, status: int, message: str, error_type: ErrorType | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_for(status)


def error_response(error: KiteError) -> web.Response:
    return web.json_response(
        {"status": "error", "message": error.message, "data": None, "error_type": error.error_type.value},
        status=error.status,
    )


def success_response(data: object) -> web.Response:
    return web.json_response({"status": "success", "data": data})


def token_error(message: str = "Incorrect `api_key` or `access_token`.") -> KiteError:
    return KiteError(403, message, ErrorType.TOKEN)
