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

A ``secure_fedavg`` round is verified without seeing any update: each
client's stored masked vector must hash to its ``updateRoot`` and, span by
span, to the hash that client anchored in the round's secagg sessions; the
masked vectors are summed again (the masks cancel), the sums must equal the
aggregates the sessions recorded, the summed example count must equal the
recorded ones, and Σ n·w / Σ n must give ``globalAfter`` bit for bit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tensorledger import governance
from tensorledger.errors import IntegrityError, InvalidRequestError, NotFoundError
from tensorledger.federated import aggregation, secure
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
    checks = tuple(
        UpdateCheck(u.client, u.msp, u.update_root, u.update_object, u.num_examples)
        for u in record.updates
    )
    if not checks:
        raise IntegrityError(where, "records no client updates")
    if record.aggregation == aggregation.SECURE or record.secagg:
        names, recomputed = _recompute_secure(gw, record, where, channel)
    else:
        names, recomputed = _recompute_plain(gw, record, where)
    digest = model_digest(names, recomputed)
    if digest != record.global_after:
        raise IntegrityError(
            f"{where} global model",
            f"{record.aggregation} over the {len(checks)} recorded updates gives {digest}, "
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
        checks,
    )


def _recompute_plain(
    gw: Gateway, record: governance.Round, where: str
) -> tuple[list[str], NDArrays]:
    """Fetch every plain update and re-run the recorded rule over them, in recorded order."""
    names: list[str] | None = None
    results: list[tuple[NDArrays, int]] = []
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
    assert names is not None  # the caller refuses a round without updates
    try:
        recomputed = aggregation.aggregate(record.aggregation, record.aggregation_params, results)
    except InvalidRequestError as exc:
        raise IntegrityError(f"{where} global model", f"cannot be recomputed: {exc}") from None
    return names, recomputed


def _recompute_secure(
    gw: Gateway, record: governance.Round, where: str, channel: str
) -> tuple[list[str], NDArrays]:
    """Re-sum the stored masked vectors against the secagg anchors; unmask; divide."""
    from tensorledger.secagg import get_session
    from tensorledger.secagg.encoding import from_bytes, ring_sum, signed

    if record.aggregation != aggregation.SECURE or not record.secagg:
        raise IntegrityError(
            where,
            f"aggregates with {record.aggregation} but names secagg sessions {list(record.secagg)}",
        )
    fetched = [
        (
            u,
            secure.fetch_masked(
                gw, u.update_object, u.update_root, f"{where} update of {u.client}"
            ),
        )
        for u in record.updates
    ]
    first = fetched[0][1]
    msps = sorted(u.msp for u in record.updates)
    sums = []
    for k, session_id in enumerate(record.secagg):
        session = get_session(gw, session_id, channel=channel)
        session_where = f"{where} secagg session {session_id}"
        if sorted(session.parties) != msps:
            raise IntegrityError(
                session_where, f"has parties {list(session.parties)}, the round's clients {msps}"
            )
        parts = []
        for update, masked in fetched:
            client_where = f"{where} update of {update.client}"
            if (masked.layout, masked.sessions) != (first.layout, tuple(record.secagg)):
                raise IntegrityError(
                    client_where, "its masked object's layout or sessions differ from the round's"
                )
            part = masked.parts[k]
            anchored = session.masked_hashes.get(update.msp)
            actual = hashlib.sha256(part).hexdigest()
            if actual != anchored:
                raise IntegrityError(
                    client_where,
                    f"its span for session {session_id} hashes to {actual}, "
                    f"{update.msp} anchored {anchored}",
                )
            parts.append(from_bytes(part))
        total = ring_sum(parts)
        if session.aggregate is None or tuple(signed(total)) != session.aggregate:
            raise IntegrityError(
                session_where, "the re-summed masked vectors differ from its recorded aggregate"
            )
        sums.append(total)
    summed = secure.decode_sums(sums, first.scale_bits)
    counted = sum(u.num_examples for u in record.updates)
    if summed[-1] != counted:
        raise IntegrityError(
            f"{where} global model",
            f"the masked example counts sum to {summed[-1]:g}, the round records {counted}",
        )
    try:
        weights = secure.combine(first.layout, summed)
    except InvalidRequestError as exc:
        raise IntegrityError(f"{where} global model", f"cannot be recomputed: {exc}") from None
    return list(first.layout.names), weights


def verify_job(gw: Gateway, job: str, *, channel: str = DEFAULT_CHANNEL) -> JobVerification:
    """`verify_round` for every recorded round of ``job``, which must be numbered 1, 2, 3, ..."""
    governance.get_job(gw, job, channel=channel)  # NotFoundError for an unknown job
    numbers = [r.round for r in governance.list_rounds(gw, job, channel=channel)]
    if numbers != list(range(1, len(numbers) + 1)):
        raise IntegrityError(f"job {job} rounds", f"recorded rounds are {numbers}, not 1..n")
    return JobVerification(job, tuple(verify_round(gw, job, n, channel=channel) for n in numbers))


__all__ = ["JobVerification", "RoundVerification", "UpdateCheck", "verify_job", "verify_round"]
