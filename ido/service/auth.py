"""Who may call the API: bearer tokens with scopes, or loopback clients when no token is configured.

`read_token_file(path)` parses `--token-file`: one token per line, optionally
followed by its scope (`TOKEN read|operate|admin`; a bare token is admin),
blank lines and `#` comments skipped. `Guard` checks each request:

- with tokens: `Authorization: Bearer TOKEN` is required (401 without, or
  for an unknown token), and its scope must reach the endpoint's (403);
- without tokens: only loopback clients are served (403 otherwise). A
  request with the session cookie set by the one-time login URL is served; so
  is one from a non-browser client (no `Origin` header) whose `Host` names the
  loopback, which keeps curl and scripts working while a web page of another
  site (or a DNS-rebound name) cannot drive the API through a browser.

Tokens are compared in constant time and never logged or journalled: a
request is recorded by what it did, never by its credentials.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from ido.errors import UsageError

#: The cookie the one-time login URL sets (HttpOnly, SameSite=Strict).
SESSION_COOKIE = "ido_session"


class Scope(IntEnum):
    """What a credential may do; each scope includes the ones below it."""

    read = 1
    operate = 2
    admin = 3


def read_token_file(path: Path) -> dict[str, Scope]:
    """Return token -> scope from `path`; UsageError naming the line for a malformed one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--token-file {path}: cannot read it ({exc.strerror})") from None
    tokens: dict[str, Scope] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) > 2 or (len(parts) == 2 and parts[1] not in Scope.__members__):
            # the line is not echoed: it holds a token
            raise UsageError(f"{path}:{number}: write TOKEN or TOKEN read|operate|admin")
        if len(parts[0]) < 16:
            raise UsageError(f"{path}:{number}: the token is shorter than 16 characters; use a "
                             "random one, e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`")
        tokens[parts[0]] = Scope[parts[1]] if len(parts) == 2 else Scope.admin
    if not tokens:
        raise UsageError(f"--token-file {path}: no tokens in it; write one per line")
    return tokens


def is_loopback(host: str | None) -> bool:
    """Return whether `host` (an address or `localhost`) is the loopback interface."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """Return the name part of a `Host` header (`[::1]:8420` -> `::1`, `localhost:80` -> `localhost`)."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


@dataclass
class Denied:
    """Why a request is refused: its HTTP status (401 or 403) and a message."""

    status: int
    message: str


@dataclass
class Guard:
    """Decides whether a request may act with a scope; see the module docstring."""

    tokens: dict[str, Scope] = field(default_factory=dict)
    #: the one-time login secret (no-token mode), consumed by the first login
    login_secret: str | None = None
    #: the session cookie's value the login sets
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def for_tokens(cls, tokens: dict[str, Scope] | None) -> Guard:
        """Return a guard for `tokens`, or for loopback clients with a fresh login secret when none."""
        if tokens:
            return cls(tokens=dict(tokens))
        return cls(login_secret=secrets.token_urlsafe(24))

    def check(self, needed: Scope, *, client: str | None, authorization: str | None,
              cookie: str | None, origin: str | None, host: str | None) -> Denied | None:
        """Return None when the request may act with `needed`, else why not."""
        if self.tokens:
            scheme, _, token = (authorization or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return Denied(401, "this API needs `Authorization: Bearer TOKEN` (a token of --token-file)")
            scope = self._scope_of(token.strip())
            if scope is None:
                return Denied(401, "unknown token")
            if scope < needed:
                return Denied(403, f"this needs the {needed.name} scope; the token has {scope.name}")
            return None
        if not is_loopback(client):
            return Denied(403, "without --token-file only loopback clients are served")
        if cookie is not None and hmac.compare_digest(cookie.encode(), self.session.encode()):
            return None
        if origin is None and is_loopback(host_name(host or "")):
            return None
        return Denied(401, "a browser needs the session of the login URL `ido serve` printed at start")

    def _scope_of(self, token: str) -> Scope | None:
        found = None
        for known, scope in self.tokens.items():  # every entry compared: the time says nothing
            if hmac.compare_digest(known.encode(), token.encode()):
                found = scope
        return found

    def login(self, secret: str) -> bool:
        """Consume the one-time login secret; return whether `secret` was it."""
        if self.login_secret is None or not hmac.compare_digest(secret.encode(), self.login_secret.encode()):
            return False
        self.login_secret = None
        return True
