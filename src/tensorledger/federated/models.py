"""The small built-in Keras model for tabular classification that `fl run` trains.

A module-level function, so it can be handed to another process by name
(`functools.partial` of it pickles), which the gRPC path needs.
"""

from __future__ import annotations

from typing import Any

from tensorledger.errors import InvalidRequestError
from tensorledger.tf._runtime import keras


def tabular_model(
    features: int, *, classes: int = 2, hidden: int = 0, learning_rate: float = 0.05, seed: int = 0
) -> Any:
    """A compiled Keras classifier: logistic regression, or one hidden ReLU layer when ``hidden``.

    Binary (``classes=2``) uses one sigmoid unit and binary cross-entropy;
    more classes use softmax and sparse categorical cross-entropy (labels
    0..classes-1). ``seed`` fixes the initial weights, so every process that
    builds the model with the same arguments starts from the same weights.
    """
    if features < 1 or classes < 2 or hidden < 0:
        raise InvalidRequestError(
            f"tabular model needs features ≥ 1, classes ≥ 2, hidden ≥ 0; "
            f"got {features}, {classes}, {hidden}"
        )
    k = keras()
    k.utils.set_random_seed(seed)
    layers: list[Any] = [k.Input((features,))]
    if hidden:
        layers.append(k.layers.Dense(hidden, activation="relu"))
    if classes == 2:
        layers.append(k.layers.Dense(1, activation="sigmoid"))
        loss = "binary_crossentropy"
    else:
        layers.append(k.layers.Dense(classes, activation="softmax"))
        loss = "sparse_categorical_crossentropy"
    model = k.Sequential(layers)
    model.compile(optimizer=k.optimizers.SGD(learning_rate), loss=loss, metrics=["accuracy"])
    return model


__all__ = ["tabular_model"]
