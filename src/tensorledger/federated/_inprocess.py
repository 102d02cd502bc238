"""A Flower `ClientProxy` that calls a client in this process: Flower's round loop without Ray.

Flower's simulation engine needs Ray; the legacy `flwr.server.Server` only
needs proxies. This one hands each instruction straight to the client's
`Client` wrapper, the same object a gRPC node would run, so the strategy and
the round loop are Flower's own.
"""

from __future__ import annotations

from flwr.client import Client
from flwr.common import (
    DisconnectRes,
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    GetParametersIns,
    GetParametersRes,
    GetPropertiesIns,
    GetPropertiesRes,
    ReconnectIns,
)
from flwr.server.client_proxy import ClientProxy


class InProcessProxy(ClientProxy):
    """Forwards every call to ``client``; timeouts do not apply in process."""

    def __init__(self, cid: str, client: Client) -> None:
        super().__init__(cid)
        self.client = client

    def get_properties(
        self, ins: GetPropertiesIns, timeout: float | None, group_id: int | None
    ) -> GetPropertiesRes:
        """The client's properties."""
        return self.client.get_properties(ins)

    def get_parameters(
        self, ins: GetParametersIns, timeout: float | None, group_id: int | None
    ) -> GetParametersRes:
        """The client's current weights."""
        return self.client.get_parameters(ins)

    def fit(self, ins: FitIns, timeout: float | None, group_id: int | None) -> FitRes:
        """Train on the client's data."""
        return self.client.fit(ins)

    def evaluate(
        self, ins: EvaluateIns, timeout: float | None, group_id: int | None
    ) -> EvaluateRes:
        """Evaluate on the client's data."""
        return self.client.evaluate(ins)

    def reconnect(
        self, ins: ReconnectIns, timeout: float | None, group_id: int | None
    ) -> DisconnectRes:
        """Nothing to disconnect in process."""
        return DisconnectRes(reason="done")


__all__ = ["InProcessProxy"]
