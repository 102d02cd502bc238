"""The one door through which TensorFlow and Keras enter `tensorledger.tf`.

Both ship without type information, so each is handed out typed `Any` here
and nowhere else; the rest of the package keeps its own types strict.
"""

from __future__ import annotations

from typing import Any


def tensorflow() -> Any:
    """The `tensorflow` module (imported on first use: it takes seconds)."""
    import tensorflow as tf  # type: ignore[import-untyped,unused-ignore]

    return tf


def keras() -> Any:
    """The `keras` module (Keras 3, on the TensorFlow backend)."""
    import keras as k  # type: ignore[import-untyped,unused-ignore]

    return k


def framework() -> str:
    """What a checkpoint was made with, for its on-chain record."""
    return f"tensorflow {tensorflow().__version__} keras {keras().__version__}"


__all__ = ["framework", "keras", "tensorflow"]
