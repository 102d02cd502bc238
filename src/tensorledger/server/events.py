"""Live updates: a server-sent event per committed block, found by polling the store's height.

Polling (not an in-process hook) because other processes may commit to the
same ledger; a block committed by anyone appears. Heartbeat comments keep
proxies from closing an idle stream, and let the server notice a client gone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from tensorledger.errors import InvalidRequestError
from tensorledger.ledger import explore
from tensorledger.ledger.store import ChannelStore
from tensorledger.server.auth import EventsAccess, embedded
from tensorledger.server.routes._common import ERRORS

router = APIRouter(tags=["events"], responses=ERRORS)
#: how often the store's height is read
POLL_SECONDS = 0.25
#: a comment line after this long without a block
HEARTBEAT_SECONDS = 15.0


def block_event(store: ChannelStore, number: int) -> str:
    """One `block` event in SSE wire format."""
    summary = explore.block_summary(store, number)
    data = {
        "number": summary.number,
        "tx_count": summary.tx_count,
        "data_hash": summary.data_hash_hex,
        "time": summary.first_timestamp,
    }
    return f"event: block\nid: {number}\ndata: {json.dumps(data)}\n\n"


async def stream(
    request: Request, store: ChannelStore, start: int | None, heartbeat: float
) -> AsyncIterator[str]:
    """Events for blocks `start`, `start`+1, ... as they are committed, until the client leaves."""
    next_block = await asyncio.to_thread(store.height) if start is None else start
    yield f"retry: 2000\n: stream from block {next_block}\n\n"
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        height = await asyncio.to_thread(store.height)
        if height > next_block:
            for number in range(next_block, height):
                yield await asyncio.to_thread(block_event, store, number)
            next_block = height
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= heartbeat:
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
    """Server-sent `block` events, from block `from` (default: the next block) on."""
    del access_token  # read by the auth dependency; declared here for the spec
    start = from_
    last = request.headers.get("last-event-id")
    if start is None and last is not None:
        if not last.isdigit():
            raise InvalidRequestError("Last-Event-ID must be a block number")
        start = int(last) + 1
    store = embedded(access).store(access.channel)
    return StreamingResponse(
        stream(request, store, start, HEARTBEAT_SECONDS),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
