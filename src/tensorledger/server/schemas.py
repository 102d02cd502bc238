"""Response and request bodies of the REST API, as pydantic models for the OpenAPI spec.

The spec is a contract other tools check (schemathesis, the explorer); these
models are what FastAPI validates every response against before it is sent.
Records stored by contracts are passed through as objects (`Record`): their
fields are the contracts' (docs/design/server.md lists them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Record = dict[str, Any]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Model):
    """Every error: one line."""

    error: str


class Health(_Model):
    """Whether the server is up, and whether reads need a token."""

    status: Literal["ok"]
    version: str
    public_read: bool
    auth_required: bool


class Org(_Model):
    """An organisation of the network."""

    name: str
    msp_id: str


class Caller(_Model):
    """Who the request is made as."""

    identity: str
    msp_id: str
    scope: Literal["read", "write", "public"]
    token_id: str | None


class Info(_Model):
    """The network, its channels, and the caller."""

    version: str
    network_id: str
    orgs: list[Org]
    channels: list[str]
    caller: Caller


class ContractInfo(_Model):
    """A chaincode committed on a channel."""

    name: str
    version: str
    sequence: int
    policy: str


class ChannelInfo(_Model):
    """A channel at a glance."""

    name: str
    height: int
    tx_count: int = Field(description="valid transactions: the Merkle log's size")
    log_size: int
    orgs: list[str]
    contracts: list[ContractInfo]
    checkpoint: str | None
    verifier_key: str


class BlockSummary(_Model):
    """One block: hashes (hex), counts, the first transaction's time."""

    number: int
    hash: str
    previous_hash: str
    data_hash: str
    tx_count: int
    valid_count: int
    first_timestamp: str | None


class BlockPage(_Model):
    """A page of block summaries, newest first."""

    height: int
    blocks: list[BlockSummary]
    next_before: int | None


class Creator(_Model):
    """Who signed a transaction."""

    msp_id: str
    cn: str


class ReadView(_Model):
    """A key read during endorsement, with the version seen (null: absent)."""

    namespace: str
    key: str
    version: list[int] | None


class WriteView(_Model):
    """A key written: a preview of the value, or deleted."""

    namespace: str
    key: str
    value: str | None
    deleted: bool


class ResponseView(_Model):
    """The contract's response as endorsed."""

    status: int
    payload: str


class Transaction(_Model):
    """A transaction decoded, with the committer's validation code."""

    tx_id: str
    block: int
    index: int
    code: str
    type: str
    creator: Creator
    chaincode: str
    function: str
    args: list[str]
    endorsers: list[str]
    reads: list[ReadView]
    writes: list[WriteView]
    event: str | None
    timestamp: str | None
    response: ResponseView
    leaf: int | None


class BlockDetail(BlockSummary):
    """A block with its transactions."""

    transactions: list[Transaction]


class StateValue(_Model):
    """A key's committed value."""

    namespace: str
    key: str
    value: str | None
    value_base64: str
    version: list[int]


class HistoryItem(_Model):
    """One modification of a key."""

    tx_id: str
    value: str | None
    value_base64: str
    is_delete: bool
    timestamp: str
    version: list[int]


class History(_Model):
    """Every modification of a key, oldest first."""

    namespace: str
    key: str
    history: list[HistoryItem]


class DatasetList(_Model):
    """The newest version of each dataset."""

    datasets: list[Record]


class DatasetVersions(_Model):
    """Every version of one dataset, oldest first."""

    id: str
    versions: list[Record]


class MetricPoint(_Model):
    """A checkpoint's metrics, for a training curve."""

    version: int
    epoch: int | None
    timestamp: str
    metrics: dict[str, float]


class ModelList(_Model):
    """The newest checkpoint of each model."""

    models: list[Record]


class ModelVersions(_Model):
    """Every checkpoint of one model, and its metrics series."""

    id: str
    versions: list[Record]
    metrics: list[MetricPoint]


class AnalysisList(_Model):
    """Every recorded analysis."""

    analyses: list[Record]


class JobList(_Model):
    """Governance training jobs."""

    jobs: list[Record]


class RoundList(_Model):
    """A job's federated rounds."""

    job: str
    rounds: list[Record]


class BudgetView(_Model):
    """A dataset's privacy budget and its releases."""

    budget: Record
    releases: list[Record]


class LineageNodeView(_Model):
    """A node of a lineage graph; `id` is `kind:ref`."""

    id: str
    kind: str
    label: str
    ref: str
    hash: str | None
    owner: str | None
    tx_id: str | None
    missing: bool


class LineageEdge(BaseModel):
    """An edge from a tree parent to its child."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    relation: str


class LineageGraph(_Model):
    """A lineage graph and the tree it was drawn from."""

    root: str
    nodes: list[LineageNodeView]
    edges: list[LineageEdge]
    tree: Record


class TransactionProofBody(_Model):
    """`TransactionProof.to_json()`, verifiable offline."""

    type: Literal["tensorledger.TransactionProof/v1"]
    tx_id: str
    channel: str
    block: int
    index: int
    leaf_index: int
    envelope: str
    path: list[str]
    checkpoint: str


class ConsistencyProofBody(_Model):
    """`ConsistencyProof.to_json()`, verifiable offline."""

    type: Literal["tensorledger.ConsistencyProof/v1"]
    old_checkpoint: str
    new_checkpoint: str
    path: list[str]


class CheckpointView(_Model):
    """The newest signed checkpoint, parsed, with the key that signs it."""

    checkpoint: str
    origin: str
    size: int
    root: str
    verifier_key: str


class Invocation(_Model):
    """A contract call: function, string arguments, optional transient data (base64)."""

    function: str = Field(min_length=1, max_length=256)
    args: list[str] = Field(default_factory=list, max_length=1024)
    transient: dict[str, str] | None = None


class SubmitResponse(_Model):
    """A committed transaction."""

    tx_id: str
    block: int
    code: str
    payload: str | None
    payload_base64: str


class EvaluateResponse(_Model):
    """A query's answer."""

    payload: str | None
    payload_base64: str
