"""Credentials for a DICOMweb server: HTTP basic (user + password) or a bearer token.

Taken from options or, when an option is not given, from the environment: ``LIVERLESION_DICOMWEB_USER``,
``LIVERLESION_DICOMWEB_PASSWORD``, ``LIVERLESION_DICOMWEB_TOKEN``. Nothing here prints or logs a secret; the
``repr`` of :class:`Credentials` says only which kind is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import InvalidInputError

USER_ENV = "LIVERLESION_DICOMWEB_USER"
PASSWORD_ENV = "LIVERLESION_DICOMWEB_PASSWORD"
TOKEN_ENV = "LIVERLESION_DICOMWEB_TOKEN"


@dataclass(frozen=True)
class Credentials:
    """Basic (``user`` + ``password``) or bearer (``token``) credentials, or none."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.token and self.user:
            raise InvalidInputError("give either a user name and password or a bearer token, not both")

    @property
    def kind(self) -> str:
        return "bearer" if self.token else "basic" if self.user else "none"

    def __repr__(self) -> str:
        return f"Credentials(kind={self.kind!r}, user={self.user!r})"

    def environment(self) -> dict[str, str]:
        """The environment variables that carry these credentials (for a child process)."""
        values = {USER_ENV: self.user, PASSWORD_ENV: self.password, TOKEN_ENV: self.token}
        return {name: value for name, value in values.items() if value}

    def session(self):
        """A ``requests.Session`` that sends these credentials."""
        import requests

        session = requests.Session()
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"
        elif self.user:
            session.auth = (self.user, self.password or "")
        return session


def credentials_from(
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Options first (a token, or a user with a password from the option or the environment), then the
    environment (token, then user + password)."""
    environ = os.environ if environ is None else environ
    if token:
        return Credentials(token=token)
    if user:
        return Credentials(user, password or environ.get(PASSWORD_ENV) or None)
    if environ.get(TOKEN_ENV):
        return Credentials(token=environ[TOKEN_ENV])
    if environ.get(USER_ENV):
        return Credentials(environ[USER_ENV], password or environ.get(PASSWORD_ENV) or None)
    return Credentials()
