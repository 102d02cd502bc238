"""Service routes: health (no auth: tells the explorer whether to ask for a token) and info."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tensorledger import __version__
from tensorledger.server.auth import AnyReader, state_of
from tensorledger.server.routes._common import ERRORS
from tensorledger.server.schemas import Caller, Health, Info, Org

router = APIRouter(tags=["service"], responses=ERRORS)


@router.get("/health", response_model=Health)
def health(request: Request) -> Health:
    """Up, version, and whether reads need a token."""
    public = state_of(request).public_read
    return Health(status="ok", version=__version__, public_read=public, auth_required=not public)


@router.get("/info", response_model=Info)
def info(request: Request, caller: AnyReader) -> Info:
    """The network's organisations and channels, and who the caller is."""
    ledger = state_of(request).ledger
    return Info(
        version=__version__,
        network_id=ledger.network.network_id,
        orgs=[Org(name=o.name, msp_id=o.msp_id) for o in ledger.orgs],
        channels=list(ledger.channels),
        caller=Caller(
            identity=caller.identity,
            msp_id=caller.msp_id,
            scope=caller.scope,
            token_id=caller.token_id,
        ),
    )
