"""Read/write sets: what a simulated transaction read (with versions) and wrote.

Encoded as Fabric's `rwset.TxReadWriteSet` with `kvrwset.KVRWSet` per namespace,
so the committer's MVCC check works on the same bytes Fabric would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2


@dataclass(frozen=True, order=True, slots=True)
class Version:
    """Height of the transaction that last wrote a key: (block number, tx number)."""

    block: int
    tx: int


@dataclass(slots=True)
class RangeRead:
    """A range query made during simulation, re-run at commit to catch phantoms."""

    start: str
    end: str
    reads: list[tuple[str, Version]]
    exhausted: bool = True


@dataclass(slots=True)
class NamespaceRWSet:
    """Reads and writes of one chaincode namespace, in the order they happened."""

    namespace: str
    reads: dict[str, Version | None] = field(default_factory=dict)
    writes: dict[str, bytes | None] = field(default_factory=dict)
    ranges: list[RangeRead] = field(default_factory=list)

    def to_proto(self) -> kv_rwset_pb2.KVRWSet:
        """Fabric's KVRWSet; reads and writes sorted by key as Fabric's simulator emits them."""
        out = kv_rwset_pb2.KVRWSet()
        for key in sorted(self.reads):
            version = self.reads[key]
            read = out.reads.add(key=key)
            if version is not None:
                read.version.block_num = version.block
                read.version.tx_num = version.tx
        for rng in self.ranges:
            info = out.range_queries_info.add(
                start_key=rng.start, end_key=rng.end, itr_exhausted=rng.exhausted
            )
            for key, version in rng.reads:
                info.raw_reads.kv_reads.add(
                    key=key,
                    version=kv_rwset_pb2.Version(block_num=version.block, tx_num=version.tx),
                )
        for key in sorted(self.writes):
            value = self.writes[key]
            if value is None:
                out.writes.add(key=key, is_delete=True)
            else:
                out.writes.add(key=key, value=value)
        return out


def encode_rwset(namespaces: Iterable[NamespaceRWSet]) -> bytes:
    """Serialise namespaces into `TxReadWriteSet` bytes (data model KV)."""
    tx = rwset_pb2.TxReadWriteSet(data_model=rwset_pb2.TxReadWriteSet.KV)
    for ns in namespaces:
        tx.ns_rwset.add(namespace=ns.namespace, rwset=ns.to_proto().SerializeToString())
    data: bytes = tx.SerializeToString()
    return data


def decode_rwset(data: bytes) -> list[NamespaceRWSet]:
    """Parse `TxReadWriteSet` bytes back into namespaces (raises DecodeError on garbage)."""
    tx = rwset_pb2.TxReadWriteSet.FromString(data)
    result = []
    for ns in tx.ns_rwset:
        kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
        parsed = NamespaceRWSet(ns.namespace)
        for read in kv.reads:
            parsed.reads[read.key] = (
                Version(read.version.block_num, read.version.tx_num)
                if read.HasField("version")
                else None
            )
        for info in kv.range_queries_info:
            parsed.ranges.append(
                RangeRead(
                    info.start_key,
                    info.end_key,
                    [
                        (r.key, Version(r.version.block_num, r.version.tx_num))
                        for r in info.raw_reads.kv_reads
                    ],
                    info.itr_exhausted,
                )
            )
        for write in kv.writes:
            parsed.writes[write.key] = None if write.is_delete else write.value
        result.append(parsed)
    return result
