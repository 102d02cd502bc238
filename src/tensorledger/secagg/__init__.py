"""Secure aggregation across organisations: pairwise masks over Z/2^128, anchored on the ledger.

No party, the aggregator included, sees another organisation's values: only
masked vectors leave a party, and the ledger holds keys, masked-vector hashes
and the aggregate. `secure_sum` sums arrays; `pooled_mean` and `pooled_ols`
give pooled statistics from secure sums of sufficient statistics.
"""

from __future__ import annotations

from tensorledger.secagg._ledger import SessionState, get_session, open_session
from tensorledger.secagg.encoding import decode, encode
from tensorledger.secagg.masking import mask, masked_digest, unmask_sum
from tensorledger.secagg.protocol import (
    Aggregator,
    MaskedInput,
    Party,
    SecureSession,
    SecureSum,
    secure_sum,
)
from tensorledger.secagg.stats import PooledMean, PooledOLS, pooled_mean, pooled_ols

__all__ = [
    "Aggregator",
    "MaskedInput",
    "Party",
    "PooledMean",
    "PooledOLS",
    "SecureSession",
    "SecureSum",
    "SessionState",
    "decode",
    "encode",
    "get_session",
    "mask",
    "masked_digest",
    "open_session",
    "pooled_mean",
    "pooled_ols",
    "secure_sum",
    "unmask_sum",
]
