"""Make fabric-chaincode-python 2.5.4 send the chaincode events its stub collects.

The official Python shim records ``stub.set_event(...)`` on the stub but its
handler never copies the event into the ``COMPLETED`` message it sends the
peer, so on a real Fabric peer no block ever carries a chaincode event, and
clients listening for `DataStored` wait forever. Fabric keeps one event per
transaction (the last one set), which is what we attach here.

The fix wraps the peer stream the handler writes to: when the handler sends a
transaction's ``COMPLETED`` message, the stub of that transaction gives its
last event. Stubs are found by handler, channel and tx id: every endorsing
peer opens its own stream (its own handler) and runs the same transaction at
the same moment, so the tx id alone would hand one peer's event to another.
The same wrapper serialises the handler's writes: the shim answers each
transaction in its own task, and gRPC's asyncio streams allow one write in
flight (a second fails with GRPC_CALL_ERROR_TOO_MANY_OPERATIONS and that
transaction never completes), so concurrent clients would time out.
`install()` applies both fixes; it is idempotent. Remove it once the
shim sends events itself.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fabric_chaincode_python.fabric_shim import handler as _handler
from fabric_chaincode_python.fabric_shim import stub as _stub
from fabric_protos.peer import chaincode_shim_pb2

_COMPLETED = chaincode_shim_pb2.ChaincodeMessage.COMPLETED
_ERROR = chaincode_shim_pb2.ChaincodeMessage.ERROR

#: stubs of transactions in flight, by (handler, channel, tx id), until their last message
_live: dict[tuple[int, str, str], Any] = {}
_lock = threading.Lock()


class _EventCarryingStream:
    """The peer stream, attaching each transaction's last event to its COMPLETED message."""

    def __init__(self, inner: Any, handler: Any) -> None:
        self._inner = inner
        self._handler = id(handler)
        # gRPC aio allows one send at a time per stream; concurrent transactions share it
        self._sending = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def write(self, msg: Any) -> Any:
        if msg.type in (_COMPLETED, _ERROR):
            with _lock:
                stub = _live.pop((self._handler, msg.channel_id, msg.txid), None)
            events = stub.get_events() if stub is not None else []
            if events and msg.type == _COMPLETED:
                msg.chaincode_event.CopyFrom(events[-1])
        async with self._sending:
            return await self._inner.write(msg)


def install() -> None:
    """Patch the shim's stub and handler once per process."""
    if getattr(_handler.Handler, "_tensorledger_events", False):
        return
    make_stub = _stub.ChaincodeStub.__init__
    chat = _handler.Handler.chat_with_peer

    def stub_init(self: Any, client: Any, channel_id: str, tx_id: str, *rest: Any) -> None:
        make_stub(self, client, channel_id, tx_id, *rest)
        with _lock:
            _live[(id(client), channel_id, tx_id)] = self

    async def chat_with_peer(self: Any, stream: Any, context: Any) -> Any:
        return await chat(self, stream, _EventCarryingStream(context, self))

    _stub.ChaincodeStub.__init__ = stub_init
    _handler.ChaincodeStub = _stub.ChaincodeStub
    _handler.Handler.chat_with_peer = chat_with_peer
    _handler.Handler._tensorledger_events = True
