"""Federated routes: governance jobs, rounds, privacy budgets (404 where not deployed).

These read the chaincodes of docs/design/federated.md directly by their wire
query names, so the explorer works whichever client modules are installed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tensorledger.errors import IntegrityError
from tensorledger.server.auth import ReadAccess
from tensorledger.server.routes._common import ERRORS, query
from tensorledger.server.schemas import BudgetView, JobList, Record, RoundList

router = APIRouter(tags=["federated"], responses=ERRORS)
GOVERNANCE = "governance"
ROUNDS = "rounds"
BUDGETS = "budgets"


def _records(value: Any, what: str) -> list[Record]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise IntegrityError(what, "the contract did not answer a list of records")
    return value


def _record(value: Any, what: str) -> Record:
    if not isinstance(value, dict):
        raise IntegrityError(what, "the contract did not answer a record")
    return value


@router.get("/channels/{ch}/jobs", response_model=JobList)
def jobs(access: ReadAccess) -> dict[str, Any]:
    """Every governance training job."""
    return {"jobs": _records(query(access, GOVERNANCE, "ListJobs"), "jobs")}


@router.get("/channels/{ch}/jobs/{job_id}", response_model=Record)
def job(access: ReadAccess, job_id: str) -> Record:
    """One job, with its approvals and status."""
    return _record(query(access, GOVERNANCE, "GetJob", job_id), f"job {job_id}")


@router.get("/channels/{ch}/rounds/{job_id}", response_model=RoundList)
def rounds(access: ReadAccess, job_id: str) -> dict[str, Any]:
    """Every recorded round of a job, in order."""
    found = _records(query(access, ROUNDS, "ListRounds", job_id), f"rounds of {job_id}")
    return {"job": job_id, "rounds": found}


@router.get("/channels/{ch}/budgets/{dataset_id}", response_model=BudgetView)
def budget(access: ReadAccess, dataset_id: str) -> dict[str, Any]:
    """A dataset's ε budget and the releases that spent it."""
    total = _record(query(access, BUDGETS, "GetBudget", dataset_id), f"budget of {dataset_id}")
    releases = query(access, BUDGETS, "ListReleases", dataset_id)
    return {"budget": total, "releases": _records(releases, f"releases of {dataset_id}")}
