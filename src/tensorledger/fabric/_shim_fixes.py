"""Fixes for fabric-chaincode-python 2.5.4's talk with a real peer; `install()` applies them.

The official Python shim works inside our embedded ledger, which drives it
through its own handler, but three things break against a real Fabric peer:

* **Chaincode events are dropped.** The stub records ``set_event(...)`` but the
  handler never copies the event into the ``COMPLETED`` message, so no block
  carries one. We wrap the peer stream the handler writes to and attach the
  transaction's last event (Fabric keeps one per transaction) to its
  ``COMPLETED`` message. Stubs are found by handler, channel and tx id: every
  endorsing peer has its own stream (its own handler) and runs the same
  transaction at the same moment, so the tx id alone would mix them up.
* **Concurrent writes fail.** The shim answers each transaction in its own
  task, and a gRPC asyncio stream allows one write in flight (a second fails
  with GRPC_CALL_ERROR_TOO_MANY_OPERATIONS and that transaction never
  completes). The same wrapper serialises writes.
* **Chaincode-to-chaincode calls crash the peer.** The shim sends a bare
  ``ChaincodeInput`` where the peer expects a ``ChaincodeSpec`` naming the
  called chaincode; Fabric 2.1.1 dereferences the missing name and panics.
  It also reads the peer's answer (a ``RESPONSE`` wrapping the called
  chaincode's ``COMPLETED`` message) as if it were the ``Response`` itself.
  We send the spec and unwrap the answer, so ``stub.invoke_chaincode``
  returns the called chaincode's ``Response`` as it does on the embedded
  ledger (an error becomes a ``Response`` with status 500 and its text).

Remove each fix once the shim does it itself; `install()` is idempotent.
"""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

from fabric_chaincode_python.fabric_shim import handler as _handler
from fabric_chaincode_python.fabric_shim import stub as _stub
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2, proposal_response_pb2

_MESSAGE = chaincode_shim_pb2.ChaincodeMessage
_COMPLETED = _MESSAGE.COMPLETED
_ERROR = _MESSAGE.ERROR
_RESPONSE = _MESSAGE.RESPONSE

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


def invoke_chaincode_message(
    chaincode_name: str, args: list[str | bytes], channel_id: str, tx_id: str
) -> Any:
    """The INVOKE_CHAINCODE message a peer understands: a ChaincodeSpec naming the callee."""
    spec = chaincode_pb2.ChaincodeSpec(
        chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode_name),
        input=chaincode_pb2.ChaincodeInput(
            args=[a.encode("utf-8") if isinstance(a, str) else bytes(a) for a in args]
        ),
    )
    return _MESSAGE(
        type=_MESSAGE.INVOKE_CHAINCODE,
        payload=spec.SerializeToString(),
        txid=tx_id,
        channel_id=channel_id,
    )


def called_response(reply: Any) -> bytes:
    """The called chaincode's serialised ``Response`` from the peer's reply to INVOKE_CHAINCODE.

    The peer answers RESPONSE carrying the callee's own message (COMPLETED with
    the Response, or ERROR with text), or ERROR with text when it could not call it.
    """
    if reply.type == _RESPONSE:
        inner = _MESSAGE.FromString(reply.payload)
        if inner.type == _COMPLETED:
            return bytes(inner.payload)
        text = bytes(inner.payload).decode("utf-8", "replace")
    else:
        text = bytes(reply.payload).decode("utf-8", "replace")
    return bytes(proposal_response_pb2.Response(status=500, message=text).SerializeToString())


def install() -> None:
    """Patch the shim's stub and handler once per process."""
    if getattr(_handler.Handler, "_tensorledger_fixes", False):
        return
    make_stub = _stub.ChaincodeStub.__init__
    chat = _handler.Handler.chat_with_peer

    def stub_init(self: Any, client: Any, channel_id: str, tx_id: str, *rest: Any) -> None:
        make_stub(self, client, channel_id, tx_id, *rest)
        with _lock:
            _live[(id(client), channel_id, tx_id)] = self

    async def chat_with_peer(self: Any, stream: Any, context: Any) -> Any:
        return await chat(self, stream, _EventCarryingStream(context, self))

    async def handle_invoke_chaincode(
        self: Any, chaincode_name: str, args: list[str | bytes], channel_id: str, tx_id: str
    ) -> SimpleNamespace:
        message = invoke_chaincode_message(chaincode_name, args, channel_id, tx_id)
        reply = await self._Handler__ask_peer_and_listen(message, "InvokeChaincode")
        return SimpleNamespace(payload=called_response(reply))

    _stub.ChaincodeStub.__init__ = stub_init
    _handler.ChaincodeStub = _stub.ChaincodeStub
    _handler.Handler.chat_with_peer = chat_with_peer
    _handler.Handler.handle_invoke_chaincode = handle_invoke_chaincode
    _handler.Handler._tensorledger_fixes = True
