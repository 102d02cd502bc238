"""What the route modules share: documented error responses, deployed-chaincode checks, queries."""

from __future__ import annotations

import json
from typing import Any

from tensorledger.errors import ContractError, NotFoundError
from tensorledger.ledger import explore
from tensorledger.server._fabric import FabricLedger
from tensorledger.server.auth import Access
from tensorledger.server.schemas import ErrorBody

#: the error statuses every API route may answer, documented in the OpenAPI spec
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "bad input"),
        (401, "missing, invalid or expired token"),
        (403, "token not allowed here"),
        (404, "not found, or chaincode not deployed"),
        (409, "the contract, the policy or the committer refused"),
        (413, "request body too large"),
        (500, "the ledger is damaged"),
        (503, "the ledger is busy"),
    )
}


def require_deployed(access: Access, chaincode: str) -> None:
    """NotFoundError unless `chaincode` is committed on the channel (asked before calling it)."""
    ledger = access.state.ledger
    if isinstance(ledger, FabricLedger):
        deployed = ledger.deployed(access.channel, access.principal.identity)
    else:
        deployed = frozenset(d.name for d in explore.contracts(ledger.store(access.channel)))
    if chaincode not in deployed:
        raise NotFoundError(f"chaincode {chaincode} is not deployed on channel {access.channel}")


def query(access: Access, chaincode: str, function: str, *args: str) -> Any:
    """Evaluate a query as the caller and parse its JSON; a contract's "not found" is a 404."""
    require_deployed(access, chaincode)
    gw = access.state.ledger.gateway(access.principal.identity)
    try:
        raw = gw.network(access.channel).contract(chaincode).evaluate(function, *args)
    except ContractError as exc:
        if exc.message.endswith("does not exist.") or " has no " in exc.message:
            raise NotFoundError(exc.message) from None
        raise
    return json.loads(raw)
