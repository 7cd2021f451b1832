"""OAuth 2.0 client credentials like Salesforce's: JWT-shaped signed tokens and their checks.

Tokens are `header.payload.signature` (HS256 over a key derived from the seed) with `exp`, `iat`
and `jti` claims (ids unique to each mock). As on Salesforce, any token signed with the key is
valid until its `exp`, even one an earlier mock with the same seed issued (a gateway's token
cached on disk); a token with a bad signature is unknown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeGuard
from urllib.parse import unquote_plus

from mock_salesforce.errors import oauth_error_body

SCOPE = "sfap_api api"
# The OAuth JWT bearer grant: not documented for the Models API, but what gateways set up with
# a connected app's private key send (a real org issues an access token for it all the same).
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_MAX_REMEMBERED = 100_000
_MAX_CHECKED = 10_000


class TokenCheck(NamedTuple):
    """Outcome of checking a bearer: status is valid, expired, unknown or missing.

    A named tuple, not a dataclass: one is made per request and tuples are cheaper to build."""

    status: str
    token_id: str | None = None
    expires_s: float | None = None


class OAuthError(Exception):
    """An OAuth error response: HTTP status plus `{"error", "error_description"}`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> bytes:
        return oauth_error_body(self.error, self.description)

    def said(self) -> str:
        """The journal's `error`: `invalid_grant: invalid assertion`."""
        return f"{self.error}: {self.description}"


def basic_credentials(authorization: str | None) -> dict[str, str]:
    """`client_id` and `client_secret` from an `Authorization: Basic` header (RFC 6749 2.3.1,
    client_secret_basic: each form-urlencoded, joined by a colon, base64), as the form would
    carry them; {} without one. OAuth libraries (authlib, requests-oauthlib) send it so by
    default, and Salesforce's token endpoint takes it as well as the form fields."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        client_id, colon, secret = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(400, "invalid_request", "malformed Basic authorization header") from None
    if not colon:
        raise OAuthError(400, "invalid_request", "malformed Basic authorization header")
    return {"client_id": unquote_plus(client_id), "client_secret": unquote_plus(secret)}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _unverified_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, its signature unchecked; None when it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not token.isascii():
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, RecursionError):  # bad base64 or UTF-8 are ValueErrors
        return None
    return claims if isinstance(claims, dict) else None


def _is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number that can be a time (not a bool, not NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


_Classified = tuple[float | None, TokenCheck, TokenCheck]


def _fixed(check: TokenCheck) -> _Classified:
    return None, check, check


class TokenIssuer:
    """Issues and checks access tokens against an injected epoch-seconds clock."""

    def __init__(
        self,
        *,
        seed: int,
        now_s: Callable[[], float],
        lifetime_s: float = 1800.0,
        credentials: tuple[str, str] | None = None,
        include_expires_in: bool = False,
        id_nonce: str | None = None,
    ) -> None:
        self._key = hashlib.sha256(f"sfperf-mock-{seed}".encode()).digest()
        # The key is the seed's, so any mock with that seed accepts the token; its `jti` is the
        # issuer's own (`id_nonce`, fresh unless given): a new mock never reissues an id that
        # a gateway may still hold from an earlier one, and the journal never joins the two.
        self._rng = random.Random(
            f"{seed}/{secrets.token_hex(16) if id_nonce is None else id_nonce}"
        )
        self._now_s = now_s
        self.lifetime_s = lifetime_s
        self.credentials = credentials
        self.include_expires_in = include_expires_in
        self._issued: dict[str, tuple[str, float]] = {}
        # Authorization header -> (expiry, check before it, check after it): one dict lookup
        # and one clock read per request instead of parsing (and for foreign tokens, verifying).
        self._checked: dict[str | None, _Classified] = {}

    def issue(self, form: Mapping[str, str], base_url: str) -> dict[str, Any]:
        """The token response for a client-credentials or JWT-bearer form; raises OAuthError."""
        self._check_client(form)
        now_s = self._now_s()
        jti = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        exp_s = float(int(now_s + self.lifetime_s))  # whole seconds, as JWT `exp` usually is
        claims = {"iss": base_url, "sub": "005MOCK", "aud": "api", "scp": SCOPE}
        token = self._sign_jwt({**claims, "iat": int(now_s), "exp": int(exp_s), "jti": jti})
        self._remember(token, jti, exp_s)
        issued_at = str(int(now_s * 1000))
        org_id = "00D" + jti.replace("-", "")[:15].upper()
        response: dict[str, Any] = {
            "access_token": token,
            "signature": _b64(
                hmac.new(self._key, (org_id + issued_at).encode(), "sha256").digest()
            ),
            "token_format": "jwt",
            "scope": SCOPE,
            "instance_url": base_url,
            "id": f"{base_url}/id/{org_id}/005MOCK000000000",
            "token_type": "Bearer",
            "issued_at": issued_at,
            "api_instance_url": base_url,
        }
        if self.include_expires_in:
            response["expires_in"] = int(self.lifetime_s)
        return response

    def check(self, authorization: str | None) -> TokenCheck:
        """Classify an `Authorization` header: valid, expired, unknown (bad signature), missing.

        Classifications are cached per header value; only the expiry is checked per call."""
        cached = self._checked.get(authorization)
        if cached is None:
            cached = self._classify_for_cache(authorization)
        expires_s, before, after = cached
        return before if expires_s is None or self._now_s() < expires_s else after

    def _classify_for_cache(self, authorization: str | None) -> _Classified:
        if len(self._checked) >= _MAX_CHECKED:  # hostile clients: random tokens
            self._checked.clear()
        entry = self._checked[authorization] = self._classify(authorization)
        return entry

    def _classify(self, authorization: str | None) -> _Classified:
        """(expiry, the check before it, the check from it on); expiry None: never changes."""
        if not authorization:
            return _fixed(TokenCheck("missing"))
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _fixed(TokenCheck("unknown"))
        known = self._issued.get(token)
        if known is not None:
            jti, exp_s = known
            return exp_s, TokenCheck("valid", jti, exp_s), TokenCheck("expired", jti, exp_s)
        claims = self._verify_jwt(token)
        exp = None if claims is None else claims.get("exp")
        if claims is None or not _is_number(exp):  # a well-signed token needs a numeric `exp`
            return _fixed(TokenCheck("unknown"))
        jti, exp_s = str(claims.get("jti")), float(exp)
        # Signed with this key but not issued here: an earlier mock with the same seed issued it
        # (a gateway's token cached on disk). Salesforce accepts any token it signed until it
        # expires, so this mock does too; only a bad signature makes a token unknown.
        return exp_s, TokenCheck("valid", jti, exp_s), TokenCheck("expired", jti, exp_s)

    def _check_client(self, form: Mapping[str, str]) -> None:
        grant = form.get("grant_type")
        if grant == JWT_BEARER:
            self._check_assertion(form.get("assertion", ""))
            return
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "grant type not supported")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id:
            raise OAuthError(400, "invalid_client_id", "client identifier invalid")
        if not secret:
            raise OAuthError(401, "invalid_client", "invalid client credentials")
        if self.credentials is not None and not (
            hmac.compare_digest(client_id, self.credentials[0])
            and hmac.compare_digest(secret, self.credentials[1])
        ):
            raise OAuthError(401, "invalid_client", "invalid client credentials")

    def _check_assertion(self, assertion: str) -> None:
        """The JWT bearer grant, as Salesforce checks it where it can without the connected
        app's certificate: a JWT whose claims name the consumer key (`iss`), the user (`sub`),
        the audience (`aud`) and an `exp` not yet past. The signature is not checked (the mock
        has no certificate); with `credentials`, `iss` must be their client id."""
        claims = _unverified_claims(assertion)
        if claims is None or not all(claims.get(name) for name in ("iss", "sub", "aud")):
            raise OAuthError(400, "invalid_grant", "invalid assertion")
        exp = claims.get("exp")
        if not _is_number(exp) or exp <= self._now_s():
            raise OAuthError(400, "invalid_grant", "expired assertion")
        if self.credentials is not None and claims["iss"] != self.credentials[0]:
            raise OAuthError(400, "invalid_client_id", "client identifier invalid")

    def _remember(self, token: str, jti: str, exp_s: float) -> None:
        self._checked.clear()  # a token seen before as foreign may be this one (same seed)
        if len(self._issued) >= _MAX_REMEMBERED:
            now_s = self._now_s()
            self._issued = {t: v for t, v in self._issued.items() if v[1] > now_s}
        self._issued[token] = (jti, exp_s)

    def _sign_jwt(self, claims: Mapping[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "sfperf-mock"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode()
        return f"{header}.{payload}.{_b64(hmac.new(self._key, signing_input, 'sha256').digest())}"

    def _verify_jwt(self, token: str) -> dict[str, Any] | None:
        """The claims of a token signed with this issuer's key, or None (any malformation:
        not three parts, bytes that are not base64 or not UTF-8, claims that are not JSON)."""
        parts = token.split(".")
        if len(parts) != 3 or not token.isascii():  # headers may carry any bytes
            return None
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), "sha256").digest()
        try:
            if not hmac.compare_digest(_unb64(parts[2]), expected):
                return None
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return None
        return claims if isinstance(claims, dict) else None
