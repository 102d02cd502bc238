"""Statistics on the ledger: record an analysis of registered data, and re-verify one.

`run_analysis` reads a registered dataset version through its verified
chunks, computes a statistic and records method, parameters, input roots,
result and result hash through the `analyses` chaincode. `verify_analysis`
is what another organisation runs to trust that record without trusting
its author: it re-verifies every input (manifest against the chain, every
chunk against the manifest), re-hashes the stored result, recomputes the
statistic from the verified data with the recorded parameters and shows
every value that differs.

Failures to check and failed checks are kept apart. What stops a check from
being made raises: an unknown analysis id (`NotFoundError`), a missing or
wrong data key for an encrypted input (`ConfigError`). What a check finds
wrong is reported, never raised: an altered chunk or manifest, a record
whose result no longer matches its hash, a result that does not recompute.
So `verify_analysis` returns an `AnalysisCheck` whenever it could look, and
its `summary()` is the one line a command line prints.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tensorledger import __version__
from tensorledger.errors import IntegrityError, InvalidRequestError, NotFoundError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry import (
    AnalysisInput,
    AnalysisRecord,
    DatasetRecord,
    record_analysis,
    resolve_analysis,
)
from tensorledger.stats._backend import tensorflow
from tensorledger.stats._record_methods import (
    METHODS,
    check_method,
    compute,
    resolve_parameters,
)
from tensorledger.stats._record_sources import KeyArg, Source, open_source
from tensorledger.stats.result import JSONValue, canonical_json, hash_result

#: longest analysis id the `analyses` contract accepts
_MAX_ID = 128


@dataclass(frozen=True)
class Difference:
    """One value of a recorded result that the recomputation does not confirm.

    `path` locates it in the result (``"coefficients[3]"``,
    ``"columns[2].mean"``); `rel_diff` is ``|a - b| / max(|a|, |b|)`` for two
    numbers, None when the values are not both numbers (a changed name, a
    missing key, lists of different lengths).
    """

    path: str
    recorded: JSONValue
    recomputed: JSONValue
    rel_diff: float | None

    def __str__(self) -> str:
        rel = "" if self.rel_diff is None else f" (relative difference {self.rel_diff:.3g})"
        return f"{self.path}: recorded {self.recorded!r}, recomputed {self.recomputed!r}{rel}"


@dataclass(frozen=True)
class InputCheck:
    """One input of an analysis re-verified: its dataset version, the root recorded, the outcome.

    `chunks` is how many chunks were re-hashed (0 when the check stopped
    early); `detail` is None when the input verified, else one line naming
    what failed, e.g. ``"dataset diabetes v1 chunk 0: SHA-256 is ..."``.
    """

    dataset: str
    root: str
    ok: bool
    chunks: int = 0
    detail: str | None = None


@dataclass(frozen=True)
class AnalysisCheck:
    """The outcome of `verify_analysis`.

    `ok` only if every input re-verified, the stored result still hashes to
    the recorded resultHash (`hash_ok`), it was recomputed (`recomputed`,
    None when the inputs failed or the record cannot be recomputed, with
    `error` saying why) and no value differs beyond `rtol` (`differences`).
    `exact` says the recomputation reproduced the recorded hash bit for bit.
    """

    analysis_id: str
    ok: bool
    inputs: tuple[InputCheck, ...]
    hash_ok: bool
    recomputed: Mapping[str, JSONValue] | None
    differences: tuple[Difference, ...]
    rtol: float
    exact: bool = False
    error: str | None = None
    record: AnalysisRecord | None = field(default=None, repr=False, compare=False)

    @property
    def inputs_ok(self) -> bool:
        """Whether every input dataset version re-verified."""
        return all(check.ok for check in self.inputs)

    def summary(self) -> str:
        """One line for a command line: verified, or why not (a failed input first, alone)."""
        head = f"analysis {self.analysis_id}"
        if self.ok:
            chunks = sum(c.chunks for c in self.inputs)
            refs = ", ".join(c.dataset for c in self.inputs)
            how = "bit for bit" if self.exact else f"within rtol {self.rtol:g}"
            inputs = "input" if len(self.inputs) == 1 else "inputs"
            chunk_word = "chunk" if chunks == 1 else "chunks"
            return (
                f"{head} verified: {inputs} {refs} re-verified ({chunks} {chunk_word}), "
                f"result recomputed {how}"
            )
        for check in self.inputs:
            if not check.ok:
                return f"{head} NOT verified: input {check.dataset}: {check.detail}"
        reasons = []
        if not self.hash_ok:
            reasons.append("the stored result does not hash to the recorded resultHash")
        if self.error is not None:
            reasons.append(self.error)
        if self.differences:
            count = len(self.differences)
            shown = "; ".join(str(d) for d in self.differences[:3])
            more = f"; and {count - 3} more" if count > 3 else ""
            reasons.append(f"{count} value(s) differ beyond rtol {self.rtol:g}: {shown}{more}")
        return f"{head} NOT verified: {'; '.join(reasons)}"


def run_analysis(
    gw: Gateway,
    method: str,
    dataset: str,
    *,
    version: int | None = None,
    analysis_id: str | None = None,
    key: KeyArg = None,
    channel: str = DEFAULT_CHANNEL,
    **params: Any,
) -> AnalysisRecord:
    """Compute a statistic of a registered dataset version and record it on the ledger.

    `method` is one of describe, covariance, correlation, ols, logit, ttest;
    `dataset` is 'id' (its newest version, or `version`) or 'id@v'. `params`
    are the statistic's own: ``columns`` and ``quantiles`` (describe),
    ``columns`` (covariance, correlation), ``y``, ``x``, ``add_intercept``
    (ols; logit adds ``max_iter``, ``tol``), ``column`` with either
    ``group_column`` and ``groups`` or ``other`` (ttest: two groups of one
    dataset, or one column of two datasets). Left-out columns default to the
    dataset's numeric ones, and the parameters are recorded with every
    default spelled out, so the record alone says how to recompute it.

    `key` opens encrypted inputs: one key, or keys by dataset id; by default
    the organisation's own from ``gw.key_dir``. The default `analysis_id` is
    ``<method>-<dataset>-v<version>-<12 hex>``, the hex a hash of method,
    parameters and inputs, so the same analysis of the same data gets the
    same id and is recorded once (a second time is refused before anything
    is computed). Only verified rows reach the statistic: a bad chunk raises
    `IntegrityError` naming it and nothing is recorded.
    """
    check_method(method)
    ref = dataset if version is None else f"{dataset}@{version}"
    first = open_source(gw, ref, key=key, channel=channel)
    other_ref = params.get("other") if method == "ttest" else None
    other = None
    if other_ref is not None:
        if not isinstance(other_ref, str):
            raise InvalidRequestError(f"ttest: other= must name a dataset, not {other_ref!r}")
        other = open_source(gw, other_ref, key=key, channel=channel)
        if other.ref == first.ref:
            raise InvalidRequestError(
                f"ttest: other= is {first.ref} itself; compare groups with group_column="
            )
    parameters = resolve_parameters(method, params, first, other)
    sources = [first] if other is None else [first, other]
    name = analysis_id if analysis_id is not None else default_id(method, parameters, sources)
    _refuse_recorded(gw, name, channel)
    result = compute(method, parameters, sources)
    return record_analysis(
        gw,
        name,
        method=method,
        inputs=[AnalysisInput(s.ref, s.record.root) for s in sources],
        result=result.to_dict(),
        result_hash=result.result_hash(),
        parameters=parameters,
        package=package(),
        channel=channel,
    )


def verify_analysis(
    gw: Gateway,
    analysis_id: str,
    *,
    key: KeyArg = None,
    rtol: float = 1e-9,
    channel: str = DEFAULT_CHANNEL,
) -> AnalysisCheck:
    """Re-verify a recorded analysis from the ledger and the chunk store alone.

    Each input: its dataset version is looked up on the chain, the root the
    analysis recorded must be the registered one, the manifest must hash to
    the registered digest, every chunk is re-hashed against it. The stored
    result must hash to the recorded resultHash. Then the statistic is
    recomputed from the verified inputs with the recorded parameters and
    every value is compared: numbers within `rtol` relative, everything else
    exactly.

    Raises NotFoundError for an unknown analysis id and ConfigError when an
    encrypted input cannot be opened (no key, wrong key: pass `key=`);
    everything the checks find wrong, tampered chunks included, is reported
    in the returned `AnalysisCheck` (``ok=False``), not raised.
    """
    if isinstance(rtol, bool) or not isinstance(rtol, int | float) or not 0.0 <= rtol < math.inf:
        raise InvalidRequestError(f"rtol must be a finite number ≥ 0, not {rtol!r}")
    record = resolve_analysis(gw, analysis_id, channel=channel)
    hash_ok = _hash_ok(record)
    checks: list[InputCheck] = []
    sources: list[Source] = []
    for item in record.inputs:
        check, source = _check_input(gw, record, item, key, channel)
        checks.append(check)
        if source is not None:
            sources.append(source)
    recomputed: dict[str, JSONValue] | None = None
    differences: tuple[Difference, ...] = ()
    exact = False
    error = None
    if all(c.ok for c in checks):
        try:
            result = compute(record.method, record.parameters, sources)
        except IntegrityError as exc:  # a chunk changed after it was re-verified
            checks = [_failed(c, exc) if _names(exc, c) else c for c in checks]
            error = str(exc)
        except InvalidRequestError as exc:
            error = f"the recorded analysis cannot be recomputed: {exc}"
        else:
            recomputed = result.to_dict()
            differences = tuple(compare(dict(record.result), recomputed, rtol))
            exact = result.result_hash() == record.result_hash
    ok = (
        all(c.ok for c in checks)
        and hash_ok
        and recomputed is not None
        and error is None
        and not differences
    )
    return AnalysisCheck(
        analysis_id=record.id,
        ok=ok,
        inputs=tuple(checks),
        hash_ok=hash_ok,
        recomputed=recomputed,
        differences=differences,
        rtol=float(rtol),
        exact=exact,
        error=error,
        record=record,
    )


def compare(
    recorded: JSONValue, recomputed: JSONValue, rtol: float, path: str = ""
) -> list[Difference]:
    """Every place where two JSON results disagree: numbers beyond `rtol`, anything else at all.

    Numbers are compared as numbers (an int recorded and a float recomputed
    are equal if their values are); booleans are not numbers here.
    """
    if isinstance(recorded, Mapping) and isinstance(recomputed, Mapping):
        out: list[Difference] = []
        for name in sorted(set(recorded) | set(recomputed)):
            where = f"{path}.{name}" if path else str(name)
            if name not in recorded or name not in recomputed:
                out.append(Difference(where, recorded.get(name), recomputed.get(name), None))
            else:
                out.extend(compare(recorded[name], recomputed[name], rtol, where))
        return out
    if _is_list(recorded) and _is_list(recomputed):
        assert isinstance(recorded, Sequence) and isinstance(recomputed, Sequence)
        if len(recorded) != len(recomputed):
            return [Difference(path, list(recorded), list(recomputed), None)]
        out = []
        for index, (a, b) in enumerate(zip(recorded, recomputed, strict=True)):
            out.extend(compare(a, b, rtol, f"{path}[{index}]"))
        return out
    if _is_number(recorded) and _is_number(recomputed):
        assert isinstance(recorded, int | float) and isinstance(recomputed, int | float)
        if recorded == recomputed:
            return []
        rel = abs(recorded - recomputed) / max(abs(recorded), abs(recomputed))
        return [Difference(path, recorded, recomputed, rel)] if rel > rtol else []
    same_kind = isinstance(recorded, bool) == isinstance(recomputed, bool)
    if same_kind and recorded == recomputed:
        return []
    return [Difference(path, recorded, recomputed, None)]


def default_id(method: str, parameters: Mapping[str, JSONValue], sources: Sequence[Source]) -> str:
    """``<method>-<dataset>-v<version>-<12 hex>``: readable, and the same for the same analysis."""
    digest = hashlib.sha256(
        canonical_json(
            {"method": method, "parameters": dict(parameters), "inputs": [s.ref for s in sources]}
        )
    ).hexdigest()[:12]
    record: DatasetRecord = sources[0].record
    tail = f"-v{record.version}-{digest}"
    room = _MAX_ID - len(method) - 1 - len(tail)
    return f"{method}-{record.id[:room]}{tail}"


def package() -> str:
    """What computed the result: ``"tensorledger <version>; tensorflow <version>"``."""
    return f"tensorledger {__version__}; tensorflow {tensorflow().__version__}"


def _refuse_recorded(gw: Gateway, analysis_id: str, channel: str) -> None:
    """Refuse an id already on the ledger before computing (the contract would refuse it after)."""
    try:
        existing = resolve_analysis(gw, analysis_id, channel=channel)
    except NotFoundError:
        return
    raise InvalidRequestError(
        f"analysis {analysis_id} is already recorded (by {existing.owner} at "
        f"{existing.timestamp}); recorded analyses are never overwritten: "
        "verify it with verify_analysis, or pass another analysis_id"
    )


def _hash_ok(record: AnalysisRecord) -> bool:
    """Whether the stored result still hashes to the recorded resultHash."""
    try:
        return hash_result(dict(record.result)) == record.result_hash
    except InvalidRequestError:  # a non-finite float cannot have been hashed by us
        return False


def _check_input(
    gw: Gateway, record: AnalysisRecord, item: AnalysisInput, key: KeyArg, channel: str
) -> tuple[InputCheck, Source | None]:
    """Re-verify one input; the check, and the opened source when it passed."""
    try:
        source = open_source(gw, item.dataset, key=key, channel=channel)
        _same_input(record, item, source)
        chunks = source.verify()
    except (IntegrityError, NotFoundError) as exc:
        return InputCheck(item.dataset, item.root, False, 0, str(exc)), None
    return InputCheck(item.dataset, item.root, True, chunks), source


def _same_input(record: AnalysisRecord, item: AnalysisInput, source: Source) -> None:
    """Refuse a registered version other than the one recorded, or another root."""
    where = f"analysis {record.id} input {item.dataset}"
    if source.ref != item.dataset:
        raise IntegrityError(where, f"the registry answered with {source.ref}")
    if source.record.root != item.root:
        raise IntegrityError(
            where, f"recorded root {item.root} is not the registered root {source.record.root}"
        )


def _names(exc: IntegrityError, check: InputCheck) -> bool:
    """Whether the error is about this input ("dataset <id> v<n>", maybe "... chunk <i>")."""
    dataset_id, _, version = check.dataset.rpartition("@")
    where = f"dataset {dataset_id} v{version}"
    return exc.where == where or exc.where.startswith(f"{where} ")


def _failed(check: InputCheck, exc: IntegrityError) -> InputCheck:
    return InputCheck(check.dataset, check.root, False, 0, str(exc))


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


__all__ = [
    "METHODS",
    "AnalysisCheck",
    "Difference",
    "InputCheck",
    "compare",
    "run_analysis",
    "verify_analysis",
]
