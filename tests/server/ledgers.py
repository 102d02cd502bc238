"""A served ledger for the API tests: records in every registry, and tokens of every kind."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import tensorledger as tl
from tensorledger.ledger.network import channel_db
from tensorledger.ledger.store import ChannelStore
from tensorledger.server.tokens import TokenEntry, TokenStore, token_hash
from tests.contracts.records import analysis, dataset, model

CH = "mychannel"


@dataclass
class Served:
    """A ledger with known contents, and tokens by name."""

    path: Path
    tokens: dict[str, str]
    tx_ids: dict[str, str] = field(default_factory=dict)

    def height(self) -> int:
        store = ChannelStore(channel_db(self.path, CH))
        try:
            return store.height()
        finally:
            store.close()

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def make_served(path: Path) -> Served:
    """Org1 and Org2; seed records, two dataset versions, three checkpoints, one analysis."""
    tl.init(path, orgs=["Org1", "Org2"])
    served = Served(path, {})
    with tl.connect(path, identity="Org1") as gw:
        net = gw.network(CH)
        data = net.contract("datacontract")
        served.tx_ids["statData"] = data.submit("storeData", "statData", "[1.0, 2.0]").tx_id
        data.submit("storeData", "statData", "[1.0, 2.0, 3.0]")
        data.submit("storeData", "path/with/slashes", "nested")
        datasets = net.contract("datasets")
        datasets.submit("RegisterDataset", json.dumps(dataset("cohort")))
        datasets.submit(
            "RegisterDataset",
            json.dumps(dataset("cohort", 2, parents=["cohort@1"], encrypted=True, keyId="ab" * 16)),
        )
        models = net.contract("models")
        for version, loss in ((1, 0.9), (2, 0.5), (3, 0.25)):
            parent = None if version == 1 else f"fraud@{version - 1}"
            res = models.submit(
                "RegisterCheckpoint",
                json.dumps(
                    model(
                        "fraud",
                        version,
                        datasets=["cohort@2"],
                        metrics={"loss": loss, "accuracy": 1 - loss / 2},
                        epoch=version * 10,
                        parent=parent,
                    )
                ),
            )
            served.tx_ids[f"fraud@{version}"] = res.tx_id
        net.contract("analyses").submit(
            "RecordAnalysis",
            json.dumps(
                analysis(
                    "ols-1", inputs=[{"dataset": "cohort@1", "root": dataset("cohort")["root"]}]
                )
            ),
        )
    store = TokenStore.for_ledger(path)
    for name, identity, scope in (
        ("write", "Org1", "write"),
        ("read", "Org1", "read"),
        ("org2", "Org2", "write"),
        ("admin", "Org1/Admin", "write"),
    ):
        served.tokens[name], _ = store.add(identity, scope, "1d")  # type: ignore[arg-type]
    # An expired token, written as an old entry would be (add refuses a past expiry).
    expired = "expired-token-value"
    entries = [
        *store.entries(),
        TokenEntry(
            "t-old",
            token_hash(expired),
            "Org1",
            "write",
            "2020-01-01T00:00:00Z",
            "2020-01-02T00:00:00Z",
        ),
    ]
    store._write(entries)
    served.tokens["expired"] = expired
    served.tokens["wrong"] = "not-a-token-anyone-issued"
    return served
