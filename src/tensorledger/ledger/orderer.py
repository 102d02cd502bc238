"""The ordering service: accepts envelopes, cuts them into blocks, hands blocks to the committer.

Broadcast-time checks (size, channel, creator signature) reject bad envelopes
before they are ordered, as Fabric's orderer does, so they never reach the
chain. Blocks are cut at `max_message_count`, `absolute_max_bytes` or when
`timeout_ms` passed since the first envelope of the batch arrived: under load
many transactions share one fsync, alone a transaction waits at most the
timeout.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from fabric_protos.common import common_pb2
from google.protobuf.message import DecodeError

from tensorledger.crypto.msp import MembershipRegistry
from tensorledger.errors import IdentityError, InvalidRequestError, TensorLedgerError
from tensorledger.ledger.committer import CommittedBlock
from tensorledger.ledger.config import ChannelConfig


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where an ordered transaction landed and how the committer judged it."""

    tx_id: str
    block: int
    code: int


class OrderingService:
    """One channel's orderer: a queue and a thread that cuts and commits blocks."""

    def __init__(
        self,
        config: ChannelConfig,
        membership: MembershipRegistry,
        commit: Callable[[list[bytes]], CommittedBlock],
        committed: Callable[[str], bool] = lambda _tx_id: False,
    ) -> None:
        self.config = config
        self.membership = membership
        self._commit = commit
        self._committed = committed
        self._queue: queue.Queue[tuple[bytes, Future[Receipt]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def broadcast(self, envelope: bytes) -> Future[Receipt]:
        """Check and enqueue an envelope; the future resolves when its block is committed."""
        self._check(envelope)
        future: Future[Receipt] = Future()
        with self._lock:
            if self._closed:
                raise TensorLedgerError("ordering service is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"orderer-{self.config.channel}", daemon=True
                )
                self._thread.start()
            self._queue.put((envelope, future))
        return future

    def _check(self, envelope: bytes) -> None:
        limit = self.config.max_envelope_bytes
        if len(envelope) > limit:
            raise InvalidRequestError(
                f"envelope is {len(envelope)} bytes, the channel accepts at most {limit}"
            )
        try:
            env = common_pb2.Envelope.FromString(envelope)
            payload = common_pb2.Payload.FromString(env.payload)
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
        except DecodeError as exc:
            raise InvalidRequestError(f"malformed envelope: {exc}") from None
        if chdr.channel_id != self.config.channel:
            raise InvalidRequestError(
                f"envelope is for channel {chdr.channel_id!r}, not {self.config.channel!r}"
            )
        if chdr.type != common_pb2.ENDORSER_TRANSACTION:
            raise InvalidRequestError(f"envelope type {chdr.type} cannot be broadcast")
        # Fabric's /Channel/Writers policy: a member of the channel signed it.
        creator = self.membership.verify_signature(shdr.creator, env.payload, env.signature)
        if creator.msp_id not in self.config.msp_ids:
            raise IdentityError(
                f"{creator.msp_id} is not an application organisation of channel "
                f"{self.config.channel} and may not submit transactions"
            )
        # A replay of a committed transaction is refused here rather than recorded as an
        # invalid DUPLICATE_TXID entry (the committer still catches in-flight duplicates).
        if self._committed(chdr.tx_id):
            raise InvalidRequestError(f"duplicate transaction id {chdr.tx_id}: already committed")

    def _run(self) -> None:
        batch = self.config.batch
        carry: tuple[bytes, Future[Receipt]] | None = None
        while True:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is None:
                return
            items = [first]
            size = len(first[0])
            deadline = time.monotonic() + batch.timeout_ms / 1000.0
            stop = False
            while len(items) < batch.max_message_count and size < batch.absolute_max_bytes:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        nxt = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                if nxt is None:
                    stop = True
                    break
                if size + len(nxt[0]) > batch.absolute_max_bytes:
                    carry = nxt  # opens the next block, keeping arrival order
                    break
                items.append(nxt)
                size += len(nxt[0])
            self._cut([e for e, _ in items], [f for _, f in items])
            if stop:
                return

    def _cut(self, envelopes: list[bytes], futures: list[Future[Receipt]]) -> None:
        try:
            block = self._commit(envelopes)
        except BaseException as exc:  # noqa: BLE001  # every waiting client must learn why
            for f in futures:
                f.set_exception(exc)
            return
        for f, tx_id, code in zip(futures, block.tx_ids, block.codes, strict=True):
            f.set_result(Receipt(tx_id, block.number, code))

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._queue.put(None)
        if thread is not None:
            thread.join()
