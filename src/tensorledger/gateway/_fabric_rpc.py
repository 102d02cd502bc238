"""gRPC to Fabric 2.x peers and orderers: TLS channels, deliver requests, error mapping.

Every gRPC failure becomes one of our errors here, naming the node's address,
so the backend above never sees a `grpc.RpcError`.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from google.protobuf import timestamp_pb2

from tensorledger.gateway._fabric_errors import map_rpc_error
from tensorledger.gateway._fabric_profile import Node
from tensorledger.ledger.proposal import NONCE_SIZE, Signer, compute_tx_id

#: the largest block number: "stream for ever" as Fabric's SDKs ask for it
MAX_BLOCK = (1 << 64) - 1

T = TypeVar("T")


class Connections:
    """One TLS gRPC channel per node, opened on first use and closed together."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()

    def channel(self, node: Node) -> grpc.Channel:
        """The channel to `node`, trusting only its TLS CA."""
        with self._lock:
            ch = self._channels.get(node.address)
            if ch is None:
                creds = grpc.ssl_channel_credentials(root_certificates=node.tls_ca)
                ch = grpc.secure_channel(
                    node.address,
                    creds,
                    options=[
                        ("grpc.max_receive_message_length", 100 * 1024 * 1024),
                        ("grpc.max_send_message_length", 100 * 1024 * 1024),
                        # A restarted peer is used again within seconds, not after
                        # gRPC's default back-off of up to two minutes. (Not the "min"
                        # option: gRPC also takes it as the connect timeout.)
                        ("grpc.initial_reconnect_backoff_ms", 200),
                        ("grpc.max_reconnect_backoff_ms", 2000),
                    ],
                )
                self._channels[node.address] = ch
            return ch

    def close(self) -> None:
        """Close every channel."""
        with self._lock:
            for ch in self._channels.values():
                ch.close()
            self._channels.clear()


def call(fn: Callable[[], T], what: str, timeout: float | None) -> T:
    """Run one gRPC call, mapping its failure."""
    try:
        return fn()
    except grpc.RpcError as exc:
        raise map_rpc_error(exc, what, timeout) from None


def seek_envelope(signer: Signer, channel: str, start: int | None) -> common_pb2.Envelope:
    """A signed DELIVER_SEEK_INFO request: from block `start` (None: the newest) for ever."""
    nonce = os.urandom(NONCE_SIZE)
    creator = signer.serialize()
    ns = time.time_ns()
    chdr = common_pb2.ChannelHeader(
        type=common_pb2.DELIVER_SEEK_INFO,
        channel_id=channel,
        tx_id=compute_tx_id(nonce, creator),
        timestamp=timestamp_pb2.Timestamp(seconds=ns // 10**9, nanos=ns % 10**9),
    )
    shdr = common_pb2.SignatureHeader(creator=creator, nonce=nonce)
    start_pos = (
        ab_pb2.SeekPosition(newest=ab_pb2.SeekNewest())
        if start is None
        else ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start))
    )
    seek = ab_pb2.SeekInfo(
        start=start_pos,
        stop=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=MAX_BLOCK)),
        behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY,
    )
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=chdr.SerializeToString(), signature_header=shdr.SerializeToString()
        ),
        data=seek.SerializeToString(),
    ).SerializeToString()
    return common_pb2.Envelope(payload=payload, signature=signer.sign(payload))


class Stream(Iterator[T]):
    """A server stream read by a thread, so a reader can wait with a timeout and stop it.

    gRPC's blocking iterator cannot be read with a timeout; this one raises
    `queue.Empty` from `next_within` and cancels the call on `close`.
    """

    _END = object()

    def __init__(self, rpc: grpc.Call, responses: Iterator[T], what: str) -> None:
        self._rpc = rpc
        #: what the stream comes from, for error messages
        self.what = what
        self._queue: queue.Queue[object] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._pump, args=(responses,), daemon=True)
        self._thread.start()

    def _pump(self, responses: Iterator[T]) -> None:
        try:
            for item in responses:
                self._queue.put(item)
        except grpc.RpcError as exc:
            self._queue.put(exc)
        self._queue.put(self._END)

    def next_within(self, timeout: float | None) -> T:
        """The next response; `queue.Empty` after `timeout` seconds, StopIteration at the end."""
        item = self._queue.get(timeout=timeout)
        if item is self._END:
            self._queue.put(item)
            raise StopIteration
        if isinstance(item, grpc.RpcError):
            if self._closed:
                raise StopIteration
            raise map_rpc_error(item, self.what, timeout)
        return item  # type: ignore[return-value]

    def __next__(self) -> T:
        return self.next_within(None)

    def close(self) -> None:
        """Cancel the call; the pump thread then ends."""
        self._closed = True
        self._rpc.cancel()


__all__ = ["MAX_BLOCK", "Connections", "Stream", "call", "seek_envelope"]
