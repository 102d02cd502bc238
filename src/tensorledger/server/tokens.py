"""API tokens of `tensorledger serve`: issued once, kept only as hashes, mapped to identities.

A token file lives beside the ledger (`<ledger>/server-tokens.json`, mode
0600). It never holds a token, only its hash, so reading the file does not let
anyone call the API; a token is shown once, when `add` makes it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from tensorledger.errors import ConfigError, InvalidRequestError, NotFoundError

TOKENS_FILE = "server-tokens.json"
FORMAT = 1
Scope = Literal["read", "write"]
SCOPES: tuple[Scope, ...] = ("read", "write")
_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_IDENTITY = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}(/[A-Za-z0-9][A-Za-z0-9._-]{0,62})?$")


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One issued token as stored: its hash, who it acts as, what it may do, until when."""

    id: str
    sha256: str
    identity: str
    scope: Scope
    created: str
    expires: str

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the token is past its expiry time."""
        return (now or datetime.now(UTC)) >= parse_time(self.expires)


def now_rfc3339() -> str:
    """The current UTC time, RFC 3339 with seconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (a naive one is taken as UTC); InvalidRequestError if malformed."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidRequestError(f"not an RFC 3339 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expiry(text: str, now: datetime | None = None) -> str:
    """'30d', '12h', '90m', '2w' from now, or an RFC 3339 time, as RFC 3339 UTC."""
    start = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match:
        moment = start + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    else:
        moment = parse_time(text)
    if moment <= start:
        raise InvalidRequestError(f"expiry {text!r} is not in the future")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_hash(token: str) -> str:
    """Hex SHA-256 of a token, the only form a token is kept in."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """The token file of one ledger; re-read whenever it changes on disk.

    Re-reading on change is what lets `serve token revoke`, run in another
    process, take effect on a running server at its next request.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._entries: tuple[TokenEntry, ...] = ()

    @classmethod
    def for_ledger(cls, ledger: Path) -> TokenStore:
        """The token store of a ledger directory."""
        return cls(Path(ledger) / TOKENS_FILE)

    def entries(self) -> tuple[TokenEntry, ...]:
        """Every stored token entry (expired ones included)."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._entries = None, ()
                return ()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                self._entries = self._read()
                self._stamp = stamp
            return self._entries

    def authenticate(self, token: str) -> TokenEntry | None:
        """The entry the token was issued as, or None; compares every hash in constant time."""
        presented = token_hash(token)
        found = None
        for entry in self.entries():
            # No early exit: the time taken does not say which entry matched.
            if hmac.compare_digest(presented, entry.sha256):
                found = entry
        return found

    def add(self, identity: str, scope: Scope, expires: str) -> tuple[str, TokenEntry]:
        """Issue a token: (the token, shown once; its stored entry)."""
        if not _IDENTITY.match(identity):
            raise InvalidRequestError(
                f"identity {identity!r} must be 'Org1' or 'Org1/Admin' (organisation[/user])"
            )
        if scope not in SCOPES:
            raise InvalidRequestError(f"scope must be 'read' or 'write', not {scope!r}")
        token = secrets.token_urlsafe(32)
        entry = TokenEntry(
            id=f"t-{secrets.token_hex(4)}",
            sha256=token_hash(token),
            identity=identity,
            scope=scope,
            created=now_rfc3339(),
            expires=expiry(expires),
        )
        with self._lock:
            self._write([*self._read(), entry])
        return token, entry

    def revoke(self, token_id: str) -> TokenEntry:
        """Remove a token by id; NotFoundError if there is none."""
        with self._lock:
            entries = self._read()
            kept = [e for e in entries if e.id != token_id]
            if len(kept) == len(entries):
                raise NotFoundError(f"no token {token_id} in {self.path}")
            self._write(kept)
        return next(e for e in entries if e.id == token_id)

    def _read(self) -> tuple[TokenEntry, ...]:
        try:
            raw = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return ()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.path}: cannot read tokens: {exc}") from None
        try:
            if raw.get("format") != FORMAT:
                raise ConfigError(f"{self.path}: unsupported format {raw.get('format')!r}")
            entries = tuple(TokenEntry(**e) for e in raw["tokens"])
            for e in entries:
                parse_time(e.expires)
                if e.scope not in SCOPES or not re.fullmatch(r"[0-9a-f]{64}", e.sha256):
                    raise ConfigError(f"{self.path}: token {e.id} has a bad scope or hash")
        except (KeyError, TypeError, AttributeError, InvalidRequestError) as exc:
            raise ConfigError(f"{self.path} is malformed: {exc}") from None
        return entries

    def _write(self, entries: Sequence[TokenEntry]) -> None:
        body = json.dumps({"format": FORMAT, "tokens": [asdict(e) for e in entries]}, indent=2)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        # Created 0600 from the start: the hashes are not secrets, but who holds which
        # identity is nobody else's business.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body + "\n")
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.path)
