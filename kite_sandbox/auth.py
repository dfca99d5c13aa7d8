"""The sandbox's one user and its tokens: request tokens from the login page, access tokens from
POST /session/token (checksum = sha256(api_key + request_token + api_secret)), invalidation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from engine.market.calendar import IST
from kite_sandbox.errors import ErrorType, KiteError, token_error


@dataclass(frozen=True, slots=True)
class Grant:
    """What a successful token exchange hands out."""

    access_token: str
    public_token: str
    login_time: datetime  # IST wall time


class SandboxAuth:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self._api_secret = api_secret
        self._request_tokens: set[str] = set()
        self._access_tokens: set[str] = set()

    def issue_request_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self._request_tokens.add(token)
        return token

    def exchange(self, api_key: str, request_token: str, checksum: str) -> Grant:
        """Trade a request token (single use) for an access token, as POST /session/token does."""
        if not api_key or not request_token or not checksum:
            raise KiteError(400, "Missing api_key, request_token or checksum.", ErrorType.INPUT)
        if not hmac.compare_digest(api_key, self.api_key):
            raise token_error("Invalid `api_key`.")
        expected = hashlib.sha256((api_key + request_token + self._api_secret).encode()).hexdigest()
        if not hmac.compare_digest(checksum.lower(), expected):
            raise token_error("Invalid `checksum`.")
        if request_token not in self._request_tokens:
            raise token_error("Token is invalid or has expired.")
        self._request_tokens.discard(request_token)
        access_token = secrets.token_urlsafe(24)
        self._access_tokens.add(access_token)
        login_time = datetime.now(IST).replace(microsecond=0, tzinfo=None)
        return Grant(access_token, secrets.token_urlsafe(16), login_time)

    def valid(self, api_key: str, access_token: str) -> bool:
        return hmac.compare_digest(api_key, self.api_key) and access_token in self._access_tokens

    def invalidate(self, access_token: str) -> bool:
        """Forget one access token (logout); False if it was not live."""
        if access_token in self._access_tokens:
            self._access_tokens.discard(access_token)
            return True
        return False

    def expire_all(self) -> None:
        """Every access and request token dies now (the morning flush, or a logout elsewhere)."""
        self._access_tokens.clear()
        self._request_tokens.clear()

    def secret_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate, self._api_secret)
