"""Verifiable statistics computed in TensorFlow, float64, deterministically.

Each function takes columns (a mapping, a DataFrame, a 2-D array) or an
iterable of such batches and returns a frozen result with `to_dict()` and an
exact `result_hash()`. Importing this package does not import TensorFlow.
"""

from __future__ import annotations

from tensorledger.stats._source import Data
from tensorledger.stats.association import (
    CorrelationMatrix,
    CovarianceMatrix,
    correlation,
    covariance,
)
from tensorledger.stats.descriptive import ColumnSummary, Description, describe
from tensorledger.stats.ledger import (
    AnalysisCheck,
    Difference,
    InputCheck,
    run_analysis,
    verify_analysis,
)
from tensorledger.stats.linear import INTERCEPT, OLSResult, ols
from tensorledger.stats.logistic import LogitResult, logit
from tensorledger.stats.result import StatResult, canonical_json, hash_result
from tensorledger.stats.twosample import TTestResult, ttest

__all__ = [
    "INTERCEPT",
    "AnalysisCheck",
    "ColumnSummary",
    "CorrelationMatrix",
    "CovarianceMatrix",
    "Data",
    "Description",
    "Difference",
    "InputCheck",
    "LogitResult",
    "OLSResult",
    "StatResult",
    "TTestResult",
    "canonical_json",
    "correlation",
    "covariance",
    "describe",
    "hash_result",
    "logit",
    "ols",
    "run_analysis",
    "ttest",
    "verify_analysis",
]
