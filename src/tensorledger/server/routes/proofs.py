"""Proof routes: inclusion and consistency proofs exactly as ledger/proof.py writes them.

Served unverified, as the ledger makes them: the point of a proof is that the
client checks it against the signed checkpoint, independent of this server.
Nothing is cached: every proof is read from the database as it is now, so a
tampered file shows in the next answer. The routes are `async` and read SQLite
on the event loop: a proof is O(log n) indexed lookups, cheaper than a hop to
the threadpool.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tensorledger.crypto.checkpoint import parse_checkpoint
from tensorledger.errors import NotFoundError
from tensorledger.server.auth import ReadAccess, embedded
from tensorledger.server.routes._common import ERRORS
from tensorledger.server.schemas import CheckpointView, ConsistencyProofBody, TransactionProofBody

router = APIRouter(tags=["proofs"], responses=ERRORS)
Size = Annotated[int, Query(ge=0, le=2**63 - 1)]


@router.get("/channels/{ch}/proofs/transactions/{tx_id}", response_model=TransactionProofBody)
async def transaction_proof(access: ReadAccess, tx_id: str) -> dict[str, Any]:
    """Inclusion proof of a valid transaction against the newest checkpoint."""
    proof = embedded(access).channel(access.channel).prove(tx_id)
    parsed: dict[str, Any] = json.loads(proof.to_json())
    return parsed


@router.get("/channels/{ch}/proofs/consistency", response_model=ConsistencyProofBody)
async def consistency_proof(
    access: ReadAccess, old: Size, new: Size | None = None
) -> dict[str, Any]:
    """Proof that the log at checkpoint size `old` is a prefix of the one at `new` (or newest)."""
    proof = embedded(access).channel(access.channel).consistency(old, new)
    parsed: dict[str, Any] = json.loads(proof.to_json())
    return parsed


@router.get("/channels/{ch}/checkpoint", response_model=CheckpointView)
async def checkpoint(access: ReadAccess) -> CheckpointView:
    """The newest signed checkpoint, parsed, with the verifier key that signs it."""
    ch = embedded(access).channel(access.channel)
    note = ch.store.latest_checkpoint()
    if note is None:
        raise NotFoundError(f"channel {access.channel} has no checkpoint")
    cp = parse_checkpoint(note).checkpoint
    return CheckpointView(
        checkpoint=note,
        origin=cp.origin,
        size=cp.size,
        root=base64.b64encode(cp.root).decode(),
        verifier_key=ch.verifier_key(),
    )
