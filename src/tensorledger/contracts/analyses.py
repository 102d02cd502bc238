"""AnalysisContract (chaincode `analyses`): recorded statistical results, immutable once written.

An analysis names its method and parameters, the dataset versions and roots it
read, its result and the result's hash, and the package that computed it, so
any organisation can recompute it from the verified inputs and compare.
"""

from __future__ import annotations

from typing import Any

from tensorledger.contracts import _records as r
from tensorledger.contracts._base import Contract, TransactionContext

KIND = "analysis"
LABEL = "Analysis"
EVENT = "AnalysisRecorded"
_METHOD = r"[A-Za-z][A-Za-z0-9_.:-]*"


def _inputs(f: r.Fields, name: str, value: Any) -> list[dict[str, str]]:
    """[{dataset: 'id@v', root: digest}], at least one, datasets distinct."""
    if not isinstance(value, list) or not 0 < len(value) <= r.MAX_REFS:
        raise f.fail(name, f"an array of 1 to {r.MAX_REFS} inputs {{dataset, root}}", value)
    out = []
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(item, dict):
            raise f.fail(where, "an object {dataset, root}", item)
        extra = sorted(set(item) - {"dataset", "root"})
        if extra:
            raise r.RecordError(f"{f.kind} record: unknown field '{where}.{extra[0]}'")
        for part in ("dataset", "root"):
            if part not in item:
                raise r.RecordError(f"{f.kind} record: missing required field '{where}.{part}'")
        out.append(
            {
                "dataset": r.ref(f, f"{where}.dataset", item["dataset"]),
                "root": r.digest(f, f"{where}.root", item["root"]),
            }
        )
    datasets = [i["dataset"] for i in out]
    if len(set(datasets)) != len(datasets):
        raise r.RecordError(f"{f.kind} record: field '{name}' lists a dataset twice")
    return out


def parse_analysis(text: str) -> dict[str, Any]:
    """Check a caller's analysis record and return it normalised (defaults filled in)."""
    f = r.Fields(KIND, text)
    f.need("id", r.identifier)
    f.need("method", r.text(64, _METHOD))
    f.may("parameters", r.json_object, {})
    f.need("inputs", _inputs)
    f.need("result", r.json_object)
    f.need("resultHash", r.digest)
    f.need("package", r.text(128))
    f.may("tags", r.tags, {})
    return f.done()


def _key(analysis_id: str) -> str:
    return f"{KIND}/{analysis_id}"


class AnalysisContract(Contract):
    """Analyses by id, written once by any organisation of the channel.

    Every input names a registered dataset version and carries its root: both
    are checked through a call to the `datasets` chaincode, and `verify
    analysis` re-verifies the data itself.
    """

    Name = "AnalysisContract"

    def get_evaluate_transactions(self) -> list[str]:
        """Queries, so Fabric's metadata marks them evaluate-only."""
        return ["GetAnalysis", "ListAnalyses"]

    async def RecordAnalysis(self, ctx: TransactionContext, recordJSON: str) -> str:
        """Record an analysis under a new id; returns the stored record JSON."""
        record = parse_analysis(recordJSON)
        r.stamp(ctx, record)
        for i, item in enumerate(record["inputs"]):
            dataset = await r.registered_dataset(ctx, KIND, f"inputs[{i}].dataset", item["dataset"])
            if dataset.get("root") != item["root"]:
                raise r.RecordError(
                    f"{LABEL} record: field 'inputs[{i}].root' is not the registered root of "
                    f"dataset {item['dataset']}"
                )
        stub = ctx.get_stub()
        key = _key(record["id"])
        if await stub.get_state(key):
            raise r.RecordError(
                f"{LABEL} {record['id']} already exists; recorded analyses are never overwritten"
            )
        body = r.canonical(record)
        await stub.put_state(key, body.encode("utf-8"))
        stub.set_event(EVENT, key.encode("utf-8"))
        return body

    async def GetAnalysis(self, ctx: TransactionContext, analysisId: str) -> str:
        """One analysis's record."""
        r.check_id(LABEL, analysisId)
        raw = await ctx.get_stub().get_state(_key(analysisId))
        if not raw:
            raise r.RecordError(f"{LABEL} {analysisId} does not exist.")
        return bytes(raw).decode("utf-8")

    async def ListAnalyses(self, ctx: TransactionContext) -> str:
        """Every recorded analysis, in key order, as a JSON array."""
        bodies = [
            bytes(kv.value).decode("utf-8")
            async for kv in await ctx.get_stub().get_state_by_range(f"{KIND}/", f"{KIND}0")
        ]
        return "[" + ",".join(bodies) + "]"
