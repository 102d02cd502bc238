"""Breast-cancer data split across organisations, and a numpy reading of the logistic model."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer

from tensorledger.federated import ClientData
from tensorledger.federated.models import tabular_model

#: the model every test trains: logistic regression on the 30 standardised features
model_fn = functools.partial(tabular_model, 30, learning_rate=0.1, seed=0)


def splits(
    names: list[str], seed: int = 0
) -> tuple[dict[str, ClientData], tuple[np.ndarray, np.ndarray]]:
    """Each name's share of 80 % of the rows (shuffled), and the held-out 20 %.

    Features are standardised with the training rows' mean and deviation, as
    each hospital would with agreed constants.
    """
    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype(np.float32)
    cut = int(0.8 * len(x))
    mean, std = x[:cut].mean(axis=0), x[:cut].std(axis=0)
    x = ((x - mean) / std).astype(np.float32)
    parts = np.array_split(np.arange(cut), len(names))
    data = {
        name: ClientData.arrays(x[idx], y[idx], batch_size=16)
        for name, idx in zip(names, parts, strict=True)
    }
    return data, (x[cut:], y[cut:])


def accuracy(weights: list[Any], x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of logistic weights ``[kernel (30, 1), bias (1,)]``, computed with numpy alone."""
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in weights)
    logits = x.astype(np.float64) @ kernel[:, 0] + bias[0]
    return float(np.mean((logits > 0) == (y > 0.5)))
