"""References ('id@version') and version look-ups shared by the registry's client modules."""

from __future__ import annotations

import json

from tensorledger.errors import ContractError, NotFoundError
from tensorledger.gateway import Gateway


def split_ref(ref: str) -> tuple[str, int | None]:
    """('id', version) of 'id@version', ('id', None) of a bare id."""
    record_id, at, number = ref.partition("@")
    if not at:
        return record_id, None
    if not number.isdigit() or int(number) < 1:
        raise NotFoundError(f"{ref!r} is not a reference 'id@version' with a version ≥ 1")
    return record_id, int(number)


def latest_version(
    gw: Gateway, channel: str, chaincode: str, getter: str, label: str, record_id: str
) -> int:
    """The newest version of an id in a versioned registry, 0 when it has none.

    Relies on the contract's not-found text for an id with no versions
    ("<Label> <id> does not exist."), which the contract tests pin.
    """
    try:
        raw = gw.network(channel).contract(chaincode).evaluate(getter, record_id, "latest")
    except ContractError as exc:
        if exc.message == f"{label} {record_id} does not exist.":
            return 0
        raise
    return int(json.loads(raw)["version"])


def not_found(kind: str, ref: str, exc: ContractError) -> NotFoundError | ContractError:
    """NotFoundError for a contract's "does not exist." answer; the error itself otherwise."""
    if exc.message.endswith("does not exist."):
        return NotFoundError(f"{kind} {ref} is not registered: {exc.message}")
    return exc
