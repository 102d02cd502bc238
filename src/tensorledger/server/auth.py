"""Who a request is made as: bearer tokens mapped to identities, scopes, channel membership.

Rules (docs/design/server.md): reads need a valid token unless the server
runs with public reads; writes always need a write-scoped token. No token, an
unknown one or an expired one is 401; a valid token that may not do this (read
scope on a write, an organisation outside the channel) is 403. These checks
run before any ledger call, so a refused request changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from tensorledger.errors import ConfigError
from tensorledger.server._errors import HTTPError
from tensorledger.server._fabric import FabricLedger
from tensorledger.server._ledger import ServedLedger
from tensorledger.server.tokens import TokenStore


@dataclass(frozen=True, slots=True)
class ServerState:
    """What every request needs: the ledger, the tokens, the read policy."""

    ledger: ServedLedger | FabricLedger
    tokens: TokenStore
    public_read: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity a request acts as, and what its token allows."""

    identity: str
    msp_id: str
    scope: Literal["read", "write", "public"]
    token_id: str | None


@dataclass(frozen=True, slots=True)
class Access:
    """A principal allowed on a channel."""

    principal: Principal
    channel: str
    state: ServerState


def embedded(access: Access) -> ServedLedger:
    """The embedded ledger behind `access`, for the routes that read its store directly."""
    ledger = access.state.ledger
    if not isinstance(ledger, ServedLedger):
        raise HTTPError(500, "an embedded-ledger route was reached on a Fabric network")
    return ledger


def state_of(request: Request) -> ServerState:
    """The server state `create_app` put on the application."""
    state: ServerState = request.app.state.server
    return state


def _presented(request: Request, *, allow_query: bool) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPError(401, "Authorization header must be 'Bearer <token>'")
        return token.strip()
    if allow_query:
        # Browsers' EventSource cannot send headers; only the SSE endpoint takes this.
        return request.query_params.get("access_token")
    return None


def authenticate(request: Request, *, allow_query: bool = False) -> Principal | None:
    """The token's principal, None if no token was presented; 401 for a bad or expired one."""
    token = _presented(request, allow_query=allow_query)
    if token is None:
        return None
    state = state_of(request)
    entry = state.tokens.authenticate(token)
    if entry is None:
        raise HTTPError(401, "invalid token")
    if entry.expired():
        raise HTTPError(401, f"token {entry.id} expired at {entry.expires}")
    try:
        msp_id = state.ledger.msp_of(entry.identity)
    except ConfigError:
        raise HTTPError(403, f"token {entry.id} names an identity outside this network") from None
    return Principal(entry.identity, msp_id, entry.scope, entry.id)


def _anonymous(state: ServerState) -> Principal:
    identity = state.ledger.default_identity
    return Principal(identity, state.ledger.msp_of(identity), "public", None)


def reader(request: Request) -> Principal:
    """A principal allowed to read: a valid token, or anyone with --public-read."""
    principal = authenticate(request)
    if principal is not None:
        return principal
    state = state_of(request)
    if state.public_read:
        return _anonymous(state)
    raise HTTPError(401, "a bearer token is required (tensorledger serve token add)")


def _member(state: ServerState, principal: Principal, channel: str) -> Access:
    if principal.msp_id not in state.ledger.members(channel):
        raise HTTPError(403, f"{principal.msp_id} is not a member of channel {channel}")
    return Access(principal, channel, state)


def _channel_read_access(ch: str, request: Request) -> Access:
    state = state_of(request)
    principal = reader(request)
    state.ledger.channel(ch)  # 404 for an unknown channel before 403 for a stranger
    return _member(state, principal, ch)


async def channel_reader(ch: str, request: Request) -> Access:
    """Read access to channel `ch` (a path parameter).

    Async so that FastAPI runs it on the event loop: over an embedded ledger every
    check is in memory (the token file is re-read only when it changed), and the
    hop to a worker thread that a sync dependency costs was most of a read's CPU
    under load. A Fabric network may fetch a genesis block for the members on
    first use, so its checks still run in a thread.
    """
    if isinstance(state_of(request).ledger, FabricLedger):
        return await run_in_threadpool(_channel_read_access, ch, request)
    return _channel_read_access(ch, request)


def channel_events_reader(ch: str, request: Request) -> Access:
    """Read access for the SSE stream, which may carry its token as ?access_token=."""
    state = state_of(request)
    principal = authenticate(request, allow_query=True)
    if principal is None:
        if not state.public_read:
            raise HTTPError(401, "a bearer token is required (or ?access_token=)")
        principal = _anonymous(state)
    state.ledger.channel(ch)
    return _member(state, principal, ch)


def channel_writer(ch: str, request: Request) -> Access:
    """Write access to channel `ch`: a write-scoped token of a member organisation."""
    state = state_of(request)
    principal = authenticate(request)
    if principal is None:
        raise HTTPError(401, "writes need a bearer token with write scope")
    if principal.scope != "write":
        raise HTTPError(403, f"token {principal.token_id} has read scope; writes need write")
    state.ledger.channel(ch)
    return _member(state, principal, ch)


ReadAccess = Annotated[Access, Depends(channel_reader)]
EventsAccess = Annotated[Access, Depends(channel_events_reader)]
WriteAccess = Annotated[Access, Depends(channel_writer)]
AnyReader = Annotated[Principal, Depends(reader)]
