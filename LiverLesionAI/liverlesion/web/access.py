"""Sign-in for the viewer's gateway: one shared access token, sent once in the address (``/?token=…``), then kept in
an HttpOnly cookie; ``Authorization: Bearer …`` works for scripts. Loopback-only servers need no token unless one
is given; a server listening beyond loopback always has one (given, from the environment, or generated)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets

#: Environment variable holding the token when ``--token`` is not given.
TOKEN_ENV = "LIVERLESION_WEB_TOKEN"
TOKEN_COOKIE = "ll_token"
TOKEN_QUERY = "token"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost" (the only hosts served without a token by default)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def choose_token(host: str, given: str | None, environ: dict | None = None) -> tuple[str | None, bool]:
    """The token to require, and whether it was generated here (then it must be shown to the operator once).

    ``given`` (``--token``) wins, then :data:`TOKEN_ENV`; beyond loopback a missing token is generated.
    """
    environ = os.environ if environ is None else environ
    token = given or environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < 16:
        raise ValueError("the access token must have at least 16 characters (use a long random string)")
    if token is None and not is_loopback(host):
        return secrets.token_urlsafe(24), True
    return token, False


def cookie_value(token: str) -> str:
    """What the sign-in cookie holds: a digest of the token (the token itself is not stored in the browser)."""
    return hashlib.sha256(("liverlesion-web:" + token).encode()).hexdigest()


def matches(candidate: str | None, expected: str) -> bool:
    """Constant-time comparison; False for None."""
    return candidate is not None and hmac.compare_digest(candidate.encode(), expected.encode())
