"""Offline verification of access tokens, as a Workspace Server does it.

The verifier holds the control plane's public keys (its JWKS) and revocation list in memory. A token is
accepted only if: its header names ``EdDSA`` (so ``alg: none``, and HS256 signed with the public key as
an HMAC secret, are refused before any key is touched) and a known ``kid``; the signature verifies; ``iss``
and ``aud`` are ours; ``exp``/``nbf`` hold (5 s leeway for clock skew); and neither its session (``sid``)
nor its key (``akid``) is on the revocation list.

Calls to the control plane are rare and never on the request's critical path once warm: the JWKS is
fetched at first use and again only for an unknown ``kid``, at most every ``min_refresh_s``; the
revocation list is refreshed in a background thread every ``poll_s`` while requests come in, and before
answering when it is older than two intervals (after an idle spell), so a revocation takes effect within
``2 * poll_s`` (one minute by default). If the control plane is down, already-known keys and the last
revocation list keep serving, so issued tokens keep working.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from runyard.exceptions import ServerUnavailable, Unauthenticated

logger = logging.getLogger("runyard.auth")

ALGORITHMS = ["EdDSA"]
_REQUIRED = ["exp", "iat", "sub", "jti", "aud", "iss"]
_LEEWAY_S = 5
_CACHE_MAX = 10_000


class KeySource(ABC):
    """Where a verifier gets what it needs from the control plane (over HTTP, or in-process)."""

    @abstractmethod
    def jwks(self) -> dict[str, Any]:
        """The published keys: ``{"keys": [jwk, ...]}``."""

    @abstractmethod
    def revocations(self) -> dict[str, Any]:
        """``{"sessions": [...], "api_keys": [...]}`` of revoked ids."""

    @abstractmethod
    def exchange_api_key(self, key: str, audience: str) -> str:
        """An access token for ``audience`` in exchange for an API key (raises ``Unauthenticated``)."""


class HttpKeySource(KeySource):
    """The control plane at ``url``; short timeouts, since a request may be waiting on the first fetch."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str) -> dict[str, Any]:
        import httpx

        try:
            response = httpx.get(self.url + path, timeout=self.timeout)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServerUnavailable(f"The control plane did not answer {path} ({type(exc).__name__}).") from None
        if not isinstance(data, dict):
            raise ServerUnavailable(f"The control plane answered {path} with something unexpected.")
        return data

    def jwks(self) -> dict[str, Any]:
        return self._get("/.well-known/jwks.json")

    def revocations(self) -> dict[str, Any]:
        return self._get("/api/v1/revocations")

    def exchange_api_key(self, key: str, audience: str) -> str:
        import httpx

        try:
            response = httpx.post(self.url + "/api/v1/auth/token", timeout=self.timeout,
                                  data={"grant_type": "api_key", "api_key": key, "audience": audience})
        except httpx.HTTPError as exc:
            raise ServerUnavailable(f"The control plane is unreachable ({type(exc).__name__}).") from None
        if response.status_code >= 500:
            raise ServerUnavailable("The control plane failed to exchange the API key.")
        if response.status_code != 200:
            raise Unauthenticated("The API key is invalid, expired or revoked.")
        return str(response.json()["access_token"])


class TokenVerifier:
    """Checks tokens for one audience; thread-safe, and fast once warm (one signature check per token)."""

    def __init__(self, source: KeySource, *, audience: str, issuer: str, min_refresh_s: float = 10.0,
                 poll_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.audience = audience
        self.issuer = issuer
        self.min_refresh_s = min_refresh_s
        self.poll_s = poll_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._last_jwks: float | None = None
        self._revoked_sessions: frozenset[str] = frozenset()
        self._revoked_keys: frozenset[str] = frozenset()
        #: Revoked shares: a token issued before the revocation still lists them, and they must not count.
        self.revoked_shares: frozenset[str] = frozenset()
        self._last_poll: float | None = None
        self._polling = False
        self._verified: dict[str, dict[str, Any]] = {}

    # public ------------------------------------------------------------------------------------
    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or :class:`Unauthenticated` saying only that the token is not accepted.

        A token already verified is not verified again: a client sends the same token for minutes, and
        its signature cannot have changed. Expiry and revocation are still checked on every call.
        """
        cached = self._verified.get(token)
        if cached is not None:
            if cached["exp"] + _LEEWAY_S < time.time():
                self._verified.pop(token, None)
                raise Unauthenticated("The access token has expired.", hint="Log in again (runyard login).")
            self._check_revocation(cached)
            return cached
        claims = self._verify_signed(token)
        self._check_revocation(claims)
        if len(self._verified) >= _CACHE_MAX:
            self._verified.clear()  # simple and bounded; a busy server re-verifies each token once
        self._verified[token] = claims
        return claims

    def _check_revocation(self, claims: dict[str, Any]) -> None:
        self._maybe_poll()
        if claims.get("sid") in self._revoked_sessions or claims.get("akid") in self._revoked_keys:
            raise Unauthenticated("The access token has been revoked.")

    def _verify_signed(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("The access token is malformed.") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated("The access token is not signed the way this server accepts.")
        key = self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer, leeway=_LEEWAY_S,
                options={"require": _REQUIRED})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The access token has expired.", hint="Log in again (runyard login).") from None
        except jwt.PyJWTError:
            raise Unauthenticated("The access token is not valid for this server.") from None
        return claims

    def refresh_revocations(self) -> None:
        """Fetches the revocation list now (the background poll calls this; tests too)."""
        data = self.source.revocations()
        with self._lock:
            self._revoked_sessions = frozenset(str(s) for s in data.get("sessions", ()))
            self._revoked_keys = frozenset(str(k) for k in data.get("api_keys", ()))
            self.revoked_shares = frozenset(str(k) for k in data.get("shares", ()))
            self._last_poll = self._clock()

    # internals ---------------------------------------------------------------------------------
    def _key(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            recently = self._last_jwks is not None and self._clock() - self._last_jwks < self.min_refresh_s
            if kid not in self._keys and not recently:
                self._load_jwks()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("The access token was signed by a key this server does not know.")
        return key

    def _load_jwks(self) -> None:
        """Called with the lock held. Keeps the old keys if the control plane cannot be reached."""
        import jwt

        self._last_jwks = self._clock()
        try:
            data = self.source.jwks()
        except ServerUnavailable:
            if not self._keys:
                raise
            logger.warning("Could not refresh the control plane's keys; using the %d known.", len(self._keys))
            return
        keys: dict[str, Any] = {}
        for jwk in data.get("keys", ()):
            if not isinstance(jwk, dict) or jwk.get("alg") not in ALGORITHMS or jwk.get("kty") != "OKP":
                continue  # only Ed25519 public keys: never an HMAC secret, never a private key
            try:
                keys[str(jwk["kid"])] = jwt.PyJWK(jwk).key
            except (jwt.PyJWTError, KeyError):
                continue
        self._keys = keys

    def _maybe_poll(self) -> None:
        now = self._clock()
        if self._last_poll is None:
            try:  # the first request waits for the list: a server must not start by accepting revoked tokens
                self.refresh_revocations()
            except ServerUnavailable:
                logger.warning("Could not fetch the revocation list; will retry in %.0fs.", self.poll_s)
                self._last_poll = now
            return
        age = now - self._last_poll
        if age >= 2 * self.poll_s:  # idle for a while: never decide on a list older than two intervals
            try:
                self.refresh_revocations()
            except ServerUnavailable:  # keep serving with the last list; retry after one interval
                logger.warning("Could not refresh the revocation list; keeping the last one.")
                self._last_poll = now
            return
        if age < self.poll_s or self._polling:
            return
        with self._lock:
            if self._polling:
                return
            self._polling = True
        threading.Thread(target=self._poll_once, name="runyard-revocations", daemon=True).start()

    def _poll_once(self) -> None:
        try:
            self.refresh_revocations()
        except Exception as exc:  # keep serving with the last list; try again next interval
            logger.warning("Could not refresh the revocation list (%s); keeping the last one.", type(exc).__name__)
            self._last_poll = self._clock()
        finally:
            self._polling = False
