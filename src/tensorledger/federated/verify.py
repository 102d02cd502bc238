"""`verify_round` and `verify_job`: any organisation re-checks a recorded round, trusting no one.

From the round record alone: every client's update object is fetched from
the chunk store, each chunk checked against its manifest and the tensors
against the recorded ``updateRoot``; the aggregation is re-run with the
recorded rule and parameters over the updates in the recorded order, with
the same `aggregation.aggregate` the aggregator used, so the result must
give the recorded ``globalAfter`` bit for bit; and ``globalBefore`` must be
the previous round's ``globalAfter``. The first failure raises
`IntegrityError` naming the round and what failed (a client's update, the
global model, the chain).
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorledger import governance
from tensorledger.errors import IntegrityError, InvalidRequestError, NotFoundError
from tensorledger.federated import aggregation
from tensorledger.federated.updates import NDArrays, fetch_update, model_digest
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL


@dataclass(frozen=True)
class UpdateCheck:
    """One client's update as verified: who, its digest, its object, its weight."""

    client: str
    msp: str
    update_root: str
    update_object: str
    num_examples: int


@dataclass(frozen=True)
class RoundVerification:
    """A round that verified: the recorded digests, the recomputed one (equal), the updates."""

    job: str
    round: int
    method: str
    global_before: str
    global_after: str
    recomputed: str
    previous: str | None
    updates: tuple[UpdateCheck, ...]


@dataclass(frozen=True)
class JobVerification:
    """Every recorded round of a job verified, in order; ``final`` is the last ``globalAfter``."""

    job: str
    rounds: tuple[RoundVerification, ...]

    @property
    def final(self) -> str | None:
        """The newest global model digest, or None when no round is recorded."""
        return self.rounds[-1].global_after if self.rounds else None


def verify_round(
    gw: Gateway, job: str, number: int, *, channel: str = DEFAULT_CHANNEL
) -> RoundVerification:
    """Re-verify round ``number`` of ``job``; `IntegrityError` names the first difference."""
    record = governance.get_round(gw, job, number, channel=channel)
    where = f"job {job} round {number}"
    names: list[str] | None = None
    results: list[tuple[NDArrays, int]] = []
    checks: list[UpdateCheck] = []
    for update in record.updates:
        client_where = f"{where} update of {update.client}"
        tensor_names, arrays = fetch_update(
            gw, update.update_object, update.update_root, client_where
        )
        if names is None:
            names = tensor_names
        elif tensor_names != names:
            raise IntegrityError(
                client_where, f"holds tensors {tensor_names}, the first update holds {names}"
            )
        results.append((arrays, update.num_examples))
        checks.append(
            UpdateCheck(
                update.client,
                update.msp,
                update.update_root,
                update.update_object,
                update.num_examples,
            )
        )
    if names is None:
        raise IntegrityError(where, "records no client updates")
    try:
        recomputed = aggregation.aggregate(record.aggregation, record.aggregation_params, results)
    except InvalidRequestError as exc:
        raise IntegrityError(f"{where} global model", f"cannot be recomputed: {exc}") from None
    digest = model_digest(names, recomputed)
    if digest != record.global_after:
        raise IntegrityError(
            f"{where} global model",
            f"{record.aggregation} over the {len(results)} recorded updates gives {digest}, "
            f"the ledger records globalAfter {record.global_after}",
        )
    previous = None
    if number > 1:
        try:
            previous = governance.get_round(gw, job, number - 1, channel=channel).global_after
        except NotFoundError:
            raise IntegrityError(f"{where} chain", f"round {number - 1} is not recorded") from None
        if previous != record.global_before:
            raise IntegrityError(
                f"{where} chain",
                f"globalBefore {record.global_before} is not round {number - 1}'s "
                f"globalAfter {previous}",
            )
    return RoundVerification(
        job,
        number,
        record.aggregation,
        record.global_before,
        record.global_after,
        digest,
        previous,
        tuple(checks),
    )


def verify_job(gw: Gateway, job: str, *, channel: str = DEFAULT_CHANNEL) -> JobVerification:
    """`verify_round` for every recorded round of ``job``, which must be numbered 1, 2, 3, ..."""
    governance.get_job(gw, job, channel=channel)  # NotFoundError for an unknown job
    numbers = [r.round for r in governance.list_rounds(gw, job, channel=channel)]
    if numbers != list(range(1, len(numbers) + 1)):
        raise IntegrityError(f"job {job} rounds", f"recorded rounds are {numbers}, not 1..n")
    return JobVerification(job, tuple(verify_round(gw, job, n, channel=channel) for n in numbers))


__all__ = ["JobVerification", "RoundVerification", "UpdateCheck", "verify_job", "verify_round"]
