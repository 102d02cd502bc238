"""Embedded ledgers for registry tests: a network and a gateway per organisation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tensorledger as tl
from tensorledger.ledger.network import channel_db
from tensorledger.ledger.store import ChannelStore


@dataclass
class Net:
    """A network and one gateway per organisation."""

    path: Path
    gws: dict[str, tl.Gateway]

    def contract(self, org: str, name: str) -> tl.Contract:
        return self.gws[org].network("mychannel").contract(name)

    def height(self) -> int:
        store = ChannelStore(channel_db(self.path, "mychannel"))
        try:
            return store.height()
        finally:
            store.close()

    def envelope(self, tx_id: str) -> bytes:
        store = ChannelStore(channel_db(self.path, "mychannel"))
        try:
            record = store.tx(tx_id)
            assert record is not None, tx_id
            return record.envelope
        finally:
            store.close()


def make_net(path: Path, orgs: list[str]) -> Iterator[Net]:
    tl.init(path, orgs=orgs)
    gws = {org: tl.connect(path, identity=org) for org in orgs}
    # The dataset the model and analysis records name: the contracts check it exists.
    from tests.contracts.records import dataset

    gws[orgs[0]].network().contract("datasets").submit(
        "RegisterDataset", json.dumps(dataset("cohort"))
    )
    try:
        yield Net(path, gws)
    finally:
        for gw in gws.values():
            gw.close()
