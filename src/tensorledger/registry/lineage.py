"""Lineage: which data made a model, and what was made from a dataset, as a tree.

Computed on the client from the registries' list queries, because the three
registries live in separate chaincodes. Cost: one evaluation per dataset id
and per model id plus three (D + M + 3 queries), and every record is read
once; fine for registries of thousands of versions, not for millions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tensorledger.errors import InvalidRequestError, NotFoundError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry._records import AnalysisRecord, DatasetRecord, ModelRecord
from tensorledger.registry._refs import split_ref
from tensorledger.registry.analyses import list_analyses
from tensorledger.registry.datasets import dataset_versions, list_datasets
from tensorledger.registry.models import list_models, model_versions

Kind = Literal["dataset", "model", "analysis"]
Record = DatasetRecord | ModelRecord | AnalysisRecord

ROOT = "root"
# How a child relates to the node above it. Upstream: what it came from.
TRAINED_ON = "trained on"
DERIVED_FROM = "derived from"
PARENT_CHECKPOINT = "parent checkpoint"
INPUT = "input"
# Downstream: what was made from it.
DERIVED_INTO = "derived into"
TRAINED = "trained"
CONTINUED_BY = "continued by"
ANALYSED_BY = "analysed by"


@dataclass(frozen=True)
class LineageNode:
    """A dataset, model or analysis in a lineage tree, with how it relates to its parent node.

    `record` is None (and `missing` true) for a reference that names nothing
    registered: possible for a model's datasets or an analysis's inputs
    written by a client that skipped `tensorledger.registry`'s checks.
    """

    kind: Kind
    ref: str
    relation: str  # ROOT for the node asked about
    record: Record | None
    children: tuple[LineageNode, ...] = field(default=())

    @property
    def missing(self) -> bool:
        """Whether the reference names nothing registered."""
        return self.record is None

    def walk(self) -> list[LineageNode]:
        """This node and every descendant, depth first."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: kind, ref, relation, hash, owner, registeredBy, timestamp, txId, children."""
        out: dict[str, Any] = {"kind": self.kind, "ref": self.ref, "relation": self.relation}
        rec = self.record
        if rec is None:
            out["missing"] = True
        else:
            out["hash"] = (
                rec.root
                if isinstance(rec, DatasetRecord)
                else rec.weights_root
                if isinstance(rec, ModelRecord)
                else rec.result_hash
            )
            out.update(
                owner=rec.owner,
                registeredBy=rec.registered_by,
                timestamp=rec.timestamp,
                txId=rec.tx_id,
            )
        out["children"] = [c.to_dict() for c in self.children]
        return out


class _Index:
    """Every record of the three registries, with the reverse edges lineage needs."""

    def __init__(self, gw: Gateway, channel: str) -> None:
        self.datasets: dict[str, DatasetRecord] = {}
        self.models: dict[str, ModelRecord] = {}
        self.analyses: dict[str, AnalysisRecord] = {}
        self.latest_dataset: dict[str, str] = {}
        self.latest_model: dict[str, str] = {}
        self.derived: defaultdict[str, list[str]] = defaultdict(list)
        self.trained: defaultdict[str, list[str]] = defaultdict(list)
        self.continued: defaultdict[str, list[str]] = defaultdict(list)
        self.analysed: defaultdict[str, list[str]] = defaultdict(list)
        for newest in list_datasets(gw, channel=channel):
            self.latest_dataset[newest.id] = newest.ref
            for d in dataset_versions(gw, newest.id, channel=channel):
                self.datasets[d.ref] = d
                for parent in d.parents:
                    self.derived[parent].append(d.ref)
        for newest_model in list_models(gw, channel=channel):
            self.latest_model[newest_model.id] = newest_model.ref
            for m in model_versions(gw, newest_model.id, channel=channel):
                self.models[m.ref] = m
                for ds in m.datasets:
                    self.trained[ds].append(m.ref)
                if m.parent is not None:
                    self.continued[m.parent].append(m.ref)
        for a in list_analyses(gw, channel=channel):
            self.analyses[a.id] = a
            for i in a.inputs:
                self.analysed[i.dataset].append(a.id)

    def find(self, ref: str, kind: Kind | None) -> tuple[Kind, str]:
        """(kind, exact ref) of what `ref` names; bare ids mean the newest version."""
        record_id, version = split_ref(ref)
        found: list[tuple[Kind, str]] = []
        if kind in (None, "model"):
            exact = ref if version else self.latest_model.get(record_id)
            if exact in self.models:
                found.append(("model", exact))
        if kind in (None, "dataset"):
            exact = ref if version else self.latest_dataset.get(record_id)
            if exact in self.datasets:
                found.append(("dataset", exact))
        if kind in (None, "analysis") and version is None and ref in self.analyses:
            found.append(("analysis", ref))
        if not found:
            raise NotFoundError(f"{ref} is not a registered {kind or 'dataset, model or analysis'}")
        if len(found) > 1:
            kinds = " and ".join(k for k, _ in found)
            raise InvalidRequestError(f"{ref} names a {kinds}; say which with kind=")
        return found[0]


_Path = frozenset[tuple[str, str]]  # (kind, ref) of the nodes above, to stop cycles


class _Builder:
    """Builds the tree: ancestors above a node go up only, descendants go down only.

    The path set stops cycles, which the contracts make impossible for
    datasets and checkpoints but which costs nothing to refuse.
    """

    def __init__(self, index: _Index) -> None:
        self.ix = index

    def dataset(self, ref: str, relation: str, path: _Path, *, up: bool, down: bool) -> LineageNode:
        record = self.ix.datasets.get(ref)
        if record is None or ("dataset", ref) in path:
            return LineageNode("dataset", ref, relation, record)
        path = path | {("dataset", ref)}
        children: list[LineageNode] = []
        if up:
            children += [
                self.dataset(p, DERIVED_FROM, path, up=True, down=False) for p in record.parents
            ]
        if down:
            children += [
                self.dataset(d, DERIVED_INTO, path, up=False, down=True)
                for d in self.ix.derived[ref]
            ]
            children += [
                self.model(m, TRAINED, path, up=False, down=True) for m in self.ix.trained[ref]
            ]
        children += [
            self.analysis(a, ANALYSED_BY, path)
            for a in self.ix.analysed[ref]
            if ("analysis", a) not in path  # not the analysis whose inputs these are
        ]
        return LineageNode("dataset", ref, relation, record, tuple(children))

    def model(self, ref: str, relation: str, path: _Path, *, up: bool, down: bool) -> LineageNode:
        record = self.ix.models.get(ref)
        if record is None or ("model", ref) in path:
            return LineageNode("model", ref, relation, record)
        path = path | {("model", ref)}
        children: list[LineageNode] = []
        if up:
            children += [
                self.dataset(d, TRAINED_ON, path, up=True, down=False) for d in record.datasets
            ]
            if record.parent is not None:
                children.append(
                    self.model(record.parent, PARENT_CHECKPOINT, path, up=True, down=False)
                )
        if down:
            children += [
                self.model(m, CONTINUED_BY, path, up=False, down=True)
                for m in self.ix.continued[ref]
            ]
        return LineageNode("model", ref, relation, record, tuple(children))

    def analysis(self, analysis_id: str, relation: str, path: _Path) -> LineageNode:
        record = self.ix.analyses.get(analysis_id)
        children: Sequence[LineageNode] = ()
        if record is not None and relation == ROOT:
            path = path | {("analysis", analysis_id)}
            children = [
                self.dataset(i.dataset, INPUT, path, up=True, down=False) for i in record.inputs
            ]
        return LineageNode("analysis", analysis_id, relation, record, tuple(children))


def lineage(
    gw: Gateway,
    ref_or_id: str,
    *,
    kind: Kind | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> LineageNode:
    """The lineage tree of a dataset, model or analysis ('id@v', or a bare id for the newest).

    For a model: the dataset versions it was trained on (with the datasets
    they were derived from, and the analyses of each), its parent checkpoint
    (with its own lineage), and the checkpoints that continue it. For a
    dataset: what it was derived from, and downstream the datasets derived
    from it, the models trained on it and the analyses of it. For an
    analysis: its inputs and their ancestry. `kind` settles an id that names
    both a dataset and a model. Costs D + M + 3 queries (see the module).
    """
    index = _Index(gw, channel)
    found_kind, ref = index.find(ref_or_id, kind)
    build = _Builder(index)
    if found_kind == "analysis":
        return build.analysis(ref, ROOT, frozenset())
    if found_kind == "model":
        return build.model(ref, ROOT, frozenset(), up=True, down=True)
    return build.dataset(ref, ROOT, frozenset(), up=True, down=True)
