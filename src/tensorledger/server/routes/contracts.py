"""Contract routes: submit a transaction as the token's identity, or evaluate a query.

Only chaincodes committed on the channel can be called (system chaincodes
such as `_lifecycle` cannot), and the body is checked before anything is
signed, so a refused request leaves the ledger as it was.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter

from tensorledger.errors import InvalidRequestError
from tensorledger.server.auth import ReadAccess, WriteAccess
from tensorledger.server.routes._common import ERRORS, require_deployed
from tensorledger.server.schemas import EvaluateResponse, Invocation, SubmitResponse

router = APIRouter(tags=["contracts"], responses=ERRORS)


def _transient(body: Invocation) -> dict[str, bytes] | None:
    if not body.transient:
        return None
    out = {}
    for name, value in body.transient.items():
        try:
            out[name] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError(f"transient field {name!r} is not valid base64") from None
    return out


def _payload(raw: bytes) -> tuple[str | None, str]:
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return text, base64.b64encode(raw).decode()


@router.post("/channels/{ch}/contracts/{chaincode}/transactions", response_model=SubmitResponse)
def submit(access: WriteAccess, chaincode: str, body: Invocation) -> SubmitResponse:
    """Endorse, order and commit a transaction signed as the token's identity."""
    transient = _transient(body)
    require_deployed(access, chaincode)
    gw = access.state.ledger.gateway(access.principal.identity)
    contract = gw.network(access.channel).contract(chaincode)
    result = contract.submit(body.function, *body.args, transient=transient)
    text, b64 = _payload(result.payload)
    return SubmitResponse(
        tx_id=result.tx_id, block=result.block, code=result.code, payload=text, payload_base64=b64
    )


@router.post("/channels/{ch}/contracts/{chaincode}/evaluations", response_model=EvaluateResponse)
def evaluate(access: ReadAccess, chaincode: str, body: Invocation) -> EvaluateResponse:
    """Run a query as the caller's identity; nothing is written."""
    transient = _transient(body)
    require_deployed(access, chaincode)
    gw = access.state.ledger.gateway(access.principal.identity)
    raw = (
        gw.network(access.channel)
        .contract(chaincode)
        .evaluate(body.function, *body.args, transient=transient)
    )
    text, b64 = _payload(raw)
    return EvaluateResponse(payload=text, payload_base64=b64)
