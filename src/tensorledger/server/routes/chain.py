"""Chain routes: a channel at a glance, blocks, transactions, keys and their history.

The point reads (one block, one transaction, one key) are `async` and read
SQLite on the event loop: each is a few indexed lookups in a WAL database, whose
readers never wait for its writer, and handing them to the threadpool cost more
CPU than the reads themselves. Pages of blocks and the channel overview, which
read many rows, stay in the threadpool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from tensorledger.errors import NotFoundError
from tensorledger.ledger import explore
from tensorledger.server._redact import value_view
from tensorledger.server.auth import ReadAccess, embedded
from tensorledger.server.routes._common import ERRORS
from tensorledger.server.schemas import (
    BlockDetail,
    BlockPage,
    ChannelInfo,
    ContractInfo,
    History,
    HistoryItem,
    StateValue,
    Transaction,
)

router = APIRouter(tags=["chain"], responses=ERRORS)
#: most blocks one page returns
MAX_PAGE = 100
BlockNumber = Annotated[int, Path(ge=0, le=2**63 - 1)]


@router.get("/channels/{ch}", response_model=ChannelInfo)
def channel(access: ReadAccess) -> ChannelInfo:
    """Height, organisations, contracts and the newest signed checkpoint."""
    ledger = embedded(access)
    ch = ledger.channel(access.channel)
    store = ch.store
    with store.snapshot():
        height = store.height()
        log_size = store.log_size()
        checkpoint = store.latest_checkpoint()
        contracts = explore.contracts(store)
    return ChannelInfo(
        name=access.channel,
        height=height,
        tx_count=log_size,
        log_size=log_size,
        orgs=sorted(ledger.members(access.channel)),
        contracts=[
            ContractInfo(name=c.name, version=c.version, sequence=c.sequence, policy=c.policy)
            for c in contracts
        ],
        checkpoint=checkpoint,
        verifier_key=ch.verifier_key(),
    )


@router.get("/channels/{ch}/blocks", response_model=BlockPage)
def blocks(
    access: ReadAccess,
    before: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> dict[str, Any]:
    """Block summaries below `before` (default: the height), newest first."""
    store = embedded(access).store(access.channel)
    with store.snapshot():
        height = store.height()
        end = height if before is None else min(before, height)
        start = max(0, end - limit)
        page = explore.blocks(store, start, end - start, newest_first=False) if end > 0 else []
    page.reverse()
    return {
        "height": height,
        "blocks": [b.to_dict() for b in page],
        "next_before": start if start > 0 else None,
    }


@router.get("/channels/{ch}/blocks/{n}", response_model=BlockDetail)
async def block(access: ReadAccess, n: BlockNumber) -> dict[str, Any]:
    """One block's summary and its transactions with validation codes and read/write sets."""
    store = embedded(access).store(access.channel)
    with store.snapshot():
        summary = explore.block_summary(store, n)
        txs = explore.transactions_in_block(store, n)
    return {**summary.to_dict(), "transactions": [t.to_dict() for t in txs]}


@router.get("/channels/{ch}/transactions/{tx_id}", response_model=Transaction)
async def transaction(access: ReadAccess, tx_id: str) -> dict[str, Any]:
    """A transaction by id."""
    store = embedded(access).store(access.channel)
    return explore.transaction(store, tx_id).to_dict()


@router.get("/channels/{ch}/state/{chaincode}/{key:path}", response_model=StateValue)
async def state(access: ReadAccess, chaincode: str, key: str) -> dict[str, Any]:
    """A key's committed value in a chaincode's namespace."""
    entry = embedded(access).store(access.channel).get_state(chaincode, key)
    if entry is None:
        raise NotFoundError(f"no key {key!r} in {chaincode} on channel {access.channel}")
    return {
        "namespace": chaincode,
        "key": key,
        **value_view(entry.value),
        "version": [entry.version.block, entry.version.tx],
    }


@router.get("/channels/{ch}/history/{chaincode}/{key:path}", response_model=History)
async def history(access: ReadAccess, chaincode: str, key: str) -> History:
    """Every modification of a key, oldest first (404 if it was never written)."""
    entries = embedded(access).store(access.channel).history(chaincode, key)
    if not entries:
        raise NotFoundError(f"no history of key {key!r} in {chaincode} on channel {access.channel}")
    return History(
        namespace=chaincode,
        key=key,
        history=[
            HistoryItem(
                tx_id=e.tx_id,
                **value_view(e.value),
                is_delete=e.is_delete,
                timestamp=explore.iso_time(e.seconds, e.nanos),
                version=[e.version.block, e.version.tx],
            )
            for e in entries
        ],
    )
