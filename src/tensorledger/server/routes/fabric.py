"""Chain, proof and event routes over a real Fabric network: same paths and shapes as embedded.

Mounted instead of `chain`, `proofs` and `events` when the served directory
is a Fabric network. What Fabric has no equivalent of (a Merkle log's
checkpoints and consistency proofs, raw reads of a namespace) answers 501
with the reason; an inclusion proof is a `FabricBlockProof`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from tensorledger.errors import InvalidRequestError, NotFoundError
from tensorledger.server import events as embedded_events
from tensorledger.server._errors import HTTPError
from tensorledger.server._fabric import (
    DATA_CONTRACT,
    FabricLedger,
    data_history,
    not_on_fabric,
)
from tensorledger.server._redact import value_view
from tensorledger.server.auth import Access, EventsAccess, ReadAccess
from tensorledger.server.routes._common import ERRORS, require_deployed
from tensorledger.server.schemas import (
    BlockDetail,
    BlockPage,
    ChannelInfo,
    ContractInfo,
    ErrorBody,
    History,
    HistoryItem,
    StateValue,
    Transaction,
)

router = APIRouter(
    tags=["chain (fabric)"],
    responses={**ERRORS, 501: {"model": ErrorBody, "description": "not on the fabric backend"}},
)
MAX_PAGE = 100
BlockNumber = Annotated[int, Path(ge=0, le=2**63 - 1)]
#: how often the peer's height is asked for the event stream (each ask is a signed proposal)
POLL_SECONDS = 1.0


class FabricBlockProofBody(BaseModel):
    """`FabricBlockProof.to_json()`: an orderer-signed block and the previous header, base64."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["tensorledger.FabricBlockProof/v1"]
    tx_id: str
    channel: str
    block: int
    index: int
    block_bytes: str
    previous_header: str


def fabric_of(access: Access) -> FabricLedger:
    """The Fabric network behind `access` (these routes are mounted only for one)."""
    ledger = access.state.ledger
    if not isinstance(ledger, FabricLedger):
        raise HTTPError(500, "a Fabric route was reached on an embedded ledger")
    return ledger


def _who(access: Access) -> str:
    return access.principal.identity


@router.get("/channels/{ch}", response_model=ChannelInfo)
def channel(access: ReadAccess) -> ChannelInfo:
    """Height (qscc GetChainInfo), organisations, committed chaincodes, the orderer CA."""
    ledger, ch, who = fabric_of(access), access.channel, _who(access)
    height = ledger.height(ch, who)
    valid = ledger.valid_count(ch, height, who)
    return ChannelInfo(
        name=ch,
        height=height,
        tx_count=valid,
        log_size=0,  # Fabric keeps no Merkle log
        orgs=sorted(ledger.members(ch)),
        contracts=[
            ContractInfo(name=d.name, version=d.version, sequence=d.sequence, policy=d.policy)
            for d in ledger.definitions(ch, who)
        ],
        checkpoint=None,
        verifier_key=ledger.verifier_key(ch, who),
    )


@router.get("/channels/{ch}/blocks", response_model=BlockPage)
def blocks(
    access: ReadAccess,
    before: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> dict[str, Any]:
    """Block summaries below `before` (default: the height), newest first."""
    ledger, ch, who = fabric_of(access), access.channel, _who(access)
    height = ledger.height(ch, who)
    end = height if before is None else min(before, height)
    start = max(0, end - limit)
    page = [ledger.block(ch, n, who).summary.to_dict() for n in range(end - 1, start - 1, -1)]
    return {"height": height, "blocks": page, "next_before": start if start > 0 else None}


@router.get("/channels/{ch}/blocks/{n}", response_model=BlockDetail)
def block(access: ReadAccess, n: BlockNumber) -> dict[str, Any]:
    """One block (qscc GetBlockByNumber) with its transactions, codes and read/write sets."""
    view = fabric_of(access).block(access.channel, n, _who(access))
    return {**view.summary.to_dict(), "transactions": [t.to_dict() for t in view.transactions]}


@router.get("/channels/{ch}/transactions/{tx_id}", response_model=Transaction)
def transaction(access: ReadAccess, tx_id: str) -> dict[str, Any]:
    """A transaction by id (qscc GetBlockByTxID), with the peer's validation code."""
    return fabric_of(access).locate(access.channel, tx_id, _who(access)).to_dict()


def _data_key(access: Access, chaincode: str, key: str) -> list[dict[str, Any]]:
    """A DataContract key's changes, oldest first, each located in the chain."""
    if chaincode != DATA_CONTRACT:
        raise not_on_fabric(
            f"reading namespace {chaincode!r} directly",
            "Fabric exposes world state only through chaincode functions; "
            f"keys of {DATA_CONTRACT} are read through its history function, "
            "other contracts' records through their own endpoints or /evaluations",
        )
    require_deployed(access, chaincode)
    ledger, ch, who = fabric_of(access), access.channel, _who(access)
    changes = list(reversed(data_history(ledger, ch, key, who)))
    out = []
    for change in changes:
        tx = ledger.locate(ch, str(change.get("txId")), who)
        value = change.get("value")
        out.append(
            {
                "tx_id": tx.tx_id,
                **value_view(value.encode() if isinstance(value, str) else b""),
                "is_delete": bool(change.get("isDelete")),
                "timestamp": tx.timestamp or "",
                "version": [tx.block, tx.index],
            }
        )
    return out


@router.get("/channels/{ch}/state/{chaincode}/{key:path}", response_model=StateValue)
def state(access: ReadAccess, chaincode: str, key: str) -> dict[str, Any]:
    """A DataContract key's committed value (501 for other namespaces)."""
    changes = _data_key(access, chaincode, key)
    if not changes or changes[-1]["is_delete"]:
        raise NotFoundError(f"no key {key!r} in {chaincode} on channel {access.channel}")
    newest = changes[-1]
    return {
        "namespace": chaincode,
        "key": key,
        "value": newest["value"],
        "value_base64": newest["value_base64"],
        "version": newest["version"],
    }


@router.get("/channels/{ch}/history/{chaincode}/{key:path}", response_model=History)
def history(access: ReadAccess, chaincode: str, key: str) -> History:
    """Every change of a DataContract key, oldest first (501 for other namespaces)."""
    changes = _data_key(access, chaincode, key)
    if not changes:
        raise NotFoundError(f"no history of key {key!r} in {chaincode} on channel {access.channel}")
    return History(namespace=chaincode, key=key, history=[HistoryItem(**c) for c in changes])


@router.get("/channels/{ch}/proofs/transactions/{tx_id}", response_model=FabricBlockProofBody)
def transaction_proof(access: ReadAccess, tx_id: str) -> dict[str, Any]:
    """The orderer-signed block holding a valid transaction, and the previous header."""
    proof = fabric_of(access).prove(access.channel, tx_id, _who(access))
    parsed: dict[str, Any] = json.loads(proof.to_json())
    return parsed


@router.get("/channels/{ch}/proofs/consistency")
def consistency_proof(access: ReadAccess) -> None:
    """Not on Fabric: it keeps no Merkle log to prove consistency of."""
    fabric_of(access)
    raise not_on_fabric(
        "a consistency proof",
        "Fabric keeps no Merkle log of transactions; its blocks are hash-chained and "
        "orderer-signed instead (see /proofs/transactions/{tx_id})",
    )


@router.get("/channels/{ch}/checkpoint")
def checkpoint(access: ReadAccess) -> None:
    """Not on Fabric: the orderer signs each block instead of log checkpoints."""
    fabric_of(access)
    raise not_on_fabric(
        "a signed checkpoint",
        "the orderer signs each block instead; the orderer CA that checks those "
        "signatures is the channel's verifier_key (GET /channels/{ch})",
    )


def _block_event(ledger: FabricLedger, channel: str, number: int, who: str) -> str:
    summary = ledger.block(channel, number, who).summary
    data = {
        "number": summary.number,
        "tx_count": summary.tx_count,
        "data_hash": summary.data_hash_hex,
        "time": summary.first_timestamp,
    }
    return f"event: block\nid: {number}\ndata: {json.dumps(data)}\n\n"


async def _stream(
    request: Request, ledger: FabricLedger, channel: str, who: str, start: int | None
) -> AsyncIterator[str]:
    next_block = await asyncio.to_thread(ledger.height, channel, who) if start is None else start
    yield f"retry: 2000\n: stream from block {next_block}\n\n"
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        height = await asyncio.to_thread(ledger.height, channel, who)
        if height > next_block:
            for number in range(next_block, height):
                yield await asyncio.to_thread(_block_event, ledger, channel, number, who)
            next_block = height
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= embedded_events.HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        else:
            await asyncio.sleep(POLL_SECONDS)


@router.get(
    "/channels/{ch}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "block events"}},
)
def events(
    request: Request,
    access: EventsAccess,
    from_: Annotated[int | None, Query(alias="from", ge=0, le=2**63 - 1)] = None,
    access_token: Annotated[str | None, Query(description="token, for EventSource")] = None,
) -> StreamingResponse:
    """Server-sent `block` events, found by polling the peer's height (qscc GetChainInfo)."""
    del access_token  # read by the auth dependency; declared here for the spec
    start = from_
    last = request.headers.get("last-event-id")
    if start is None and last is not None:
        if not last.isdigit():
            raise InvalidRequestError("Last-Event-ID must be a block number")
        start = int(last) + 1
    return StreamingResponse(
        _stream(request, fabric_of(access), access.channel, _who(access), start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
