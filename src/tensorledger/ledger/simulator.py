"""Transaction simulation: runs a contract against world state and records its read/write set.

Contracts run inside the official `fabric-chaincode-python` `ChaincodeStub`;
this module plays the peer's side of the shim protocol (the stub's `client`),
answering GetState, PutState, DelState, GetStateByRange and GetHistoryForKey
from the channel store instead of over gRPC. So the contract code, the stub
and the argument decoding are exactly what runs on a Fabric peer.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2, proposal_response_pb2
from google.protobuf import timestamp_pb2

from tensorledger.errors import ContractError, InvalidRequestError
from tensorledger.ledger.rwset import NamespaceRWSet, RangeRead, Version
from tensorledger.ledger.shim import ChaincodeStub, ContractChaincode
from tensorledger.ledger.store import HistoryEntry, StateEntry

#: Largest value a contract may write to one key (Fabric's default gRPC message cap is 100 MB;
#: large data belongs in the off-chain blob store, anchored by hash).
MAX_VALUE_BYTES = 4 * 1024 * 1024
#: Most keys a range query returns in one simulation.
MAX_RANGE_RESULTS = 100_000


class StateView(Protocol):
    """Committed world state as the simulator reads it."""

    def get_state(self, ns: str, key: str) -> StateEntry | None:
        """A key's committed value and version."""
        ...

    def range_state(self, ns: str, start: str, end: str) -> Any:
        """Iterator of (key, value, Version) in [start, end)."""
        ...

    def history(self, ns: str, key: str) -> list[HistoryEntry]:
        """A key's committed modifications."""
        ...


@dataclass(frozen=True, slots=True)
class Event:
    """A chaincode event set by the transaction."""

    name: str
    payload: bytes


#: resolves a chaincode name to its contract, for chaincode-to-chaincode calls
Resolver = Callable[[str], ContractChaincode]


class _SimulationHandler:
    """The peer side of the shim: answers the stub from committed state and records the rwset.

    A handler made for a called chaincode (`callee=True`) may only read: the
    writes of one transaction stay in the namespace its endorsement policy
    governs, and the reads it made elsewhere are checked for MVCC conflicts at
    commit like any other read.
    """

    def __init__(
        self,
        view: StateView,
        namespace: str,
        *,
        read_only: bool,
        resolve: Resolver | None = None,
        callee: bool = False,
    ) -> None:
        self.view = view
        self.rwset = NamespaceRWSet(namespace)
        self.read_only = read_only
        self.resolve = resolve
        self.callee = callee
        #: handlers of the chaincodes this transaction called, by namespace
        self.called: dict[str, _SimulationHandler] = {}

    async def handle_get_state(
        self, collection: str, key: str, channel_id: str, tx_id: str
    ) -> bytes:
        _check_key(key)
        entry = self.view.get_state(self.rwset.namespace, key)
        if key not in self.rwset.reads:
            self.rwset.reads[key] = None if entry is None else entry.version
        return b"" if entry is None else entry.value

    async def handle_put_state(
        self, collection: str, key: str, value: bytes, channel_id: str, tx_id: str
    ) -> None:
        _check_key(key)
        self._refuse_callee_write(key)
        if not isinstance(value, (bytes, bytearray)):
            raise ContractError(f"value for key {key!r} must be bytes or str")
        if len(value) > MAX_VALUE_BYTES:
            raise ContractError(
                f"value for key {key!r} is {len(value)} bytes; the limit is {MAX_VALUE_BYTES}"
            )
        if not value:
            # Fabric refuses an empty value: it would be indistinguishable from a missing key.
            raise ContractError(f"value for key {key!r} is empty")
        self.rwset.writes[key] = bytes(value)

    async def handle_delete_state(
        self, collection: str, key: str, channel_id: str, tx_id: str
    ) -> None:
        _check_key(key)
        self._refuse_callee_write(key)
        self.rwset.writes[key] = None

    def _refuse_callee_write(self, key: str) -> None:
        if self.callee:
            raise ContractError(
                f"chaincode {self.rwset.namespace} was called by another chaincode and may only "
                f"read (it tried to write {key!r})"
            )

    async def handle_get_state_by_range(
        self,
        collection: str,
        start_key: str,
        end_key: str,
        channel_id: str,
        tx_id: str,
        metadata: bytes | None = None,
    ) -> SimpleNamespace:
        response = chaincode_shim_pb2.QueryResponse(has_more=False, id="")
        reads: list[tuple[str, Version]] = []
        for key, value, version in self.view.range_state(self.rwset.namespace, start_key, end_key):
            if len(reads) >= MAX_RANGE_RESULTS:
                raise ContractError(f"range query returned more than {MAX_RANGE_RESULTS} keys")
            reads.append((key, version))
            kv = kv_query_result_pb2.KV(namespace=self.rwset.namespace, key=key, value=value)
            response.results.add(resultBytes=kv.SerializeToString())
        self.rwset.ranges.append(RangeRead(start_key, end_key, reads))
        return SimpleNamespace(payload=response.SerializeToString())

    async def handle_get_history_for_key(
        self, key: str, channel_id: str, tx_id: str
    ) -> SimpleNamespace:
        # History queries are not re-validated at commit (as in Fabric), so they are fit
        # for queries, not for decisions that write state. Newest first, as Fabric 2.x's
        # history query executor returns them (core/ledger/kvledger/history).
        response = chaincode_shim_pb2.QueryResponse(has_more=False, id="")
        for h in reversed(self.view.history(self.rwset.namespace, key)):
            mod = kv_query_result_pb2.KeyModification(
                tx_id=h.tx_id,
                value=h.value,
                is_delete=h.is_delete,
                timestamp=timestamp_pb2.Timestamp(seconds=h.seconds, nanos=h.nanos),
            )
            response.results.add(resultBytes=mod.SerializeToString())
        return SimpleNamespace(payload=response.SerializeToString())

    async def handle_query_state_next(self, query_id: str, channel_id: str, tx_id: str) -> None:
        return None

    async def handle_query_state_close(self, query_id: str, channel_id: str, tx_id: str) -> None:
        return None

    async def handle_get_query_result(self, *args: object, **kwargs: object) -> None:
        raise ContractError("rich queries need CouchDB and are not supported")

    async def handle_invoke_chaincode(
        self, chaincode_name: str, args: list[bytes | str], channel_id: str, tx_id: str
    ) -> SimpleNamespace:
        """Run another chaincode of the same channel, read-only, inside this transaction."""
        name, _, channel = chaincode_name.partition("/")
        if channel and channel != channel_id:
            raise ContractError("chaincode calls across channels are not supported")
        if self.resolve is None or self.callee:
            raise ContractError("a called chaincode may not call further chaincodes")
        if name == self.rwset.namespace:
            raise ContractError(f"chaincode {name} may not call itself")
        chaincode = self.resolve(name)
        handler = self.called.get(name)
        if handler is None:
            handler = _SimulationHandler(self.view, name, read_only=True, callee=True)
            self.called[name] = handler
        cc_input = chaincode_pb2.ChaincodeInput(
            args=[a.encode() if isinstance(a, str) else bytes(a) for a in args]
        )
        stub = ChaincodeStub(handler, channel_id, tx_id, cc_input, None)
        response = run_coroutine(chaincode.invoke(stub))
        return SimpleNamespace(payload=response.SerializeToString())


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ContractError("key must be a non-empty string")
    if "\x00" in key[1:] and not key.startswith("\x00"):
        raise ContractError(f"key {key!r} contains U+0000 outside a composite key")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ContractError(f"key {key!r} is not valid UTF-8") from None


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """The outcome of running a contract: its response, read/write set and event."""

    response: proposal_response_pb2.Response
    rwset: NamespaceRWSet
    event: Event | None
    #: read sets of the chaincodes the transaction called (reads only)
    called: tuple[NamespaceRWSet, ...] = ()

    @property
    def rwsets(self) -> list[NamespaceRWSet]:
        """Every namespace's read/write set, the invoked chaincode's first."""
        return [self.rwset, *self.called]


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a contract coroutine that only awaits the stub, without an event loop.

    Our stub answers every call at once, so the coroutine never suspends; a
    contract that awaits anything else (sleep, I/O) is not deterministic and is
    refused. Driving it by hand costs a few microseconds, an event loop tens.
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise ContractError("contract awaited something other than the ledger stub")


def surplus_arguments(chaincode: ContractChaincode, chaincode_input: Any) -> str | None:
    """The contract API's error text when a call has more arguments than the function takes.

    fabric-chaincode-python reports too few arguments but silently drops extra
    ones, so `storeData(id, a, b)` would store `a` and succeed; Fabric's Go and
    Node contract APIs refuse such a call, and so do we.
    """
    if not chaincode_input.args:
        return None
    name = bytes(chaincode_input.args[0]).decode("utf-8", "replace")
    namespace, _, function = name.rpartition(":")
    contracts = chaincode._metadata.contracts  # the API keeps its registry here
    meta = contracts.get(namespace or chaincode.DefaultContract)
    if meta is None:
        return None
    for tx in meta.transactions:
        if tx.name in (function, function[:1].upper() + function[1:]):
            expected, received = len(tx.parameters), len(chaincode_input.args) - 1
            if received > expected:
                return f"incorrect number of params. Expected {expected}, received {received}"
            return None
    return None


def simulate(
    chaincode: ContractChaincode,
    view: StateView,
    *,
    namespace: str,
    channel: str,
    tx_id: str,
    chaincode_input: Any,
    signed_proposal: Any,
    read_only: bool = False,
    resolve: Resolver | None = None,
) -> SimulationResult:
    """Execute one transaction of `chaincode` against `view`.

    `resolve` enables chaincode-to-chaincode calls (`stub.invoke_chaincode`).
    """
    handler = _SimulationHandler(view, namespace, read_only=read_only, resolve=resolve)
    try:
        stub = ChaincodeStub(handler, channel, tx_id, chaincode_input, signed_proposal)
    except Exception as exc:  # noqa: BLE001  # the shim raises bare Exception on bad input
        raise InvalidRequestError(f"malformed proposal: {exc}") from None
    response = run_coroutine(chaincode.invoke(stub))
    events = stub.get_events()
    event = Event(events[-1].event_name, bytes(events[-1].payload)) if events else None
    called = tuple(h.rwset for _, h in sorted(handler.called.items()))
    return SimulationResult(response, handler.rwset, event, called)
