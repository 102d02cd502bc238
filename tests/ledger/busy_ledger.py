"""A ledger with every kind of transaction outcome, and the record of what was done to it.

Valid stores and deletes, an endorsement-policy failure, MVCC and phantom
conflicts (across blocks and inside one block), a replayed transaction, and
blocks holding several transactions. Tests of the chain's structure, events,
proofs and `verify` read it and compare with `Recorded`, which is written
down here as the transactions are made, not read back from the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fabric_protos.common import common_pb2

from tensorledger.errors import CommitError
from tensorledger.ledger.network import EmbeddedNetwork, init_network
from tests.ledger.fabric_reference import (
    DUPLICATE_TXID,
    ENDORSEMENT_POLICY_FAILURE,
    MVCC_READ_CONFLICT,
    PHANTOM_READ_CONFLICT,
    VALID,
)

CC = "datacontract"


@dataclass(frozen=True)
class Recorded:
    """One transaction the scenario made: where it landed, its expected code and event."""

    tx_id: str
    block: int
    code: int
    event: tuple[str, bytes] | None = None


@dataclass
class BusyLedger:
    """The ledger's folder and the transactions made after `init`, in commit order."""

    path: Path
    txs: list[Recorded] = field(default_factory=list)
    #: world state the scenario expects at the end (datacontract namespace)
    state: dict[str, bytes] = field(default_factory=dict)
    #: the block cut with several transactions in it
    multi_tx_block: int = -1

    @property
    def invalid(self) -> list[Recorded]:
        return [t for t in self.txs if t.code != VALID]

    @property
    def valid(self) -> list[Recorded]:
        return [t for t in self.txs if t.code == VALID]


def build(path: Path) -> BusyLedger:
    """Create the ledger at `path` and run the scenario on it."""
    init_network(path, ["Org1", "Org2"])
    busy = BusyLedger(path)
    network = EmbeddedNetwork(path)
    try:
        _run(network, busy)
    finally:
        network.close()
    return busy


def _run(network: EmbeddedNetwork, busy: BusyLedger) -> None:
    ch = network.channel()
    org1, org2 = network.identity("Org1"), network.identity("Org2")

    def store(key: str, value: str) -> None:
        res = ch.submit(org1, CC, "storeData", [key, value])
        busy.txs.append(Recorded(res.tx_id, res.block, VALID, ("DataStored", key.encode())))
        busy.state[key] = value.encode()

    def expect_invalid(envelope: common_pb2.Envelope, code: int) -> None:
        try:
            ch.commit_envelope(envelope)
        except CommitError as exc:
            busy.txs.append(Recorded(exc.tx_id, exc.block or -1, code))
            return
        raise AssertionError("transaction expected to be invalid was committed")

    for i in range(4):
        store(f"k{i}", f"v{i}")

    # Endorsed by Org1 alone under MAJORITY of two organisations.
    expect_invalid(
        ch.endorse(org1, CC, "storeData", ["evil", "x"], endorsing_orgs=["Org1MSP"]),
        ENDORSEMENT_POLICY_FAILURE,
    )

    # Two deletes endorsed against the same version of k0, committed in two blocks.
    first = ch.endorse(org1, CC, "deleteData", ["k0"])
    second = ch.endorse(org2, CC, "deleteData", ["k0"])
    res = ch.commit_envelope(first)
    busy.txs.append(Recorded(res.tx_id, res.block, VALID, ("DataDeleted", b"k0")))
    del busy.state["k0"]
    expect_invalid(second, MVCC_READ_CONFLICT)

    # A range read, then an insert into the range before it commits.
    listing = ch.endorse(org1, CC, "listData", ["k", "l"])
    store("k5", "v5")
    expect_invalid(listing, PHANTOM_READ_CONFLICT)

    # One block cut by hand, as the orderer would cut it: three stores; two deletes
    # of k1 endorsed against the same version (the second conflicts with the first
    # inside the block); a replay of the committed delete of k0; and a second copy
    # of the block's own first envelope. Both copies are duplicate transaction ids.
    envelopes = [ch.endorse(org2, CC, "storeData", [f"b{i}", f"w{i}"]) for i in range(3)]
    envelopes += [ch.endorse(org1, CC, "deleteData", ["k1"]) for _ in range(2)]
    envelopes += [first, envelopes[0]]
    block = ch.committer.commit([e.SerializeToString() for e in envelopes])
    tx_ids = block.tx_ids
    for i in range(3):
        busy.txs.append(Recorded(tx_ids[i], block.number, VALID, ("DataStored", f"b{i}".encode())))
        busy.state[f"b{i}"] = f"w{i}".encode()
    busy.txs.append(Recorded(tx_ids[3], block.number, VALID, ("DataDeleted", b"k1")))
    del busy.state["k1"]
    busy.txs.append(Recorded(tx_ids[4], block.number, MVCC_READ_CONFLICT))
    busy.txs.append(Recorded(tx_ids[5], block.number, DUPLICATE_TXID))
    busy.txs.append(Recorded(tx_ids[6], block.number, DUPLICATE_TXID))
    busy.multi_tx_block = block.number
    store("k6", "v6")
