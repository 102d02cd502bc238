"""REST API and web explorer host over a ledger (`tensorledger serve`); needs the `[server]` extra.

`create_app(ledger_dir, ...)` returns the ASGI application; the contract it
implements is docs/design/server.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tensorledger.server.app import create_app


def __getattr__(name: str) -> Any:
    # FastAPI is imported on first use, so `tensorledger.server.tokens` works without it.
    if name == "create_app":
        from tensorledger.server.app import create_app

        return create_app
    raise AttributeError(name)


__all__ = ["create_app"]
