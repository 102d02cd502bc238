"""The ASGI application of `tensorledger serve`: routes, auth, errors, limits, static explorer.

`create_app` wires the API of docs/design/server.md over one ledger
directory. Nothing here touches the ledger at import; FastAPI is imported
only by this package, which the `[server]` extra provides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic_core import to_json
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from tensorledger import __version__
from tensorledger.errors import TensorLedgerError
from tensorledger.gateway._fabric_profile import is_profile
from tensorledger.server import events
from tensorledger.server._errors import error_body, status_of
from tensorledger.server._fabric import FabricLedger
from tensorledger.server._ledger import ServedLedger
from tensorledger.server._middleware import BodyLimit, SecurityHeaders
from tensorledger.server._redact import redact
from tensorledger.server.auth import ServerState
from tensorledger.server.routes import (
    chain,
    contracts,
    fabric,
    federated,
    lineage,
    proofs,
    registry,
    service,
)
from tensorledger.server.tokens import TokenStore

API = "/api/v1"
#: largest request body accepted (a contract call's arguments), in bytes
MAX_BODY = 1024 * 1024
STATIC_DIR = Path(__file__).parent / "static"


class RedactingJSONResponse(JSONResponse):
    """JSON responses that cannot carry a private key or a data key (see `_redact`)."""

    def render(self, content: Any) -> bytes:
        """Redact, then serialise: compact UTF-8 as Starlette writes it, in Rust, not `json`.

        The stdlib encoder was the largest cost of a block read after the read
        itself. A float that is not finite becomes null instead of a 500.
        """
        return to_json(redact(content))


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message), status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def library_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TensorLedgerError)
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _error(status, str(exc), headers)

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}")

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return _error(exc.status_code, str(exc.detail), exc.headers)

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Never a traceback to a client; the server log has it.
        return _error(500, f"internal error ({type(exc).__name__})")

    app.add_exception_handler(TensorLedgerError, library_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def _mount_explorer(app: FastAPI, static_dir: Path) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        page = static_dir / "index.html"
        if not page.is_file():
            raise StarletteHTTPException(404, "the explorer is not installed (no index.html)")
        return FileResponse(page, media_type="text/html")

    app.mount("/static", StaticFiles(directory=static_dir, check_dir=False), name="static")


def create_app(
    ledger_dir: Path,
    tokens: TokenStore | None = None,
    *,
    public_read: bool = False,
    static_dir: Path | None = STATIC_DIR,
    cors_origin: str | None = None,
    max_body: int = MAX_BODY,
) -> FastAPI:
    """The API over `ledger_dir`, an embedded ledger or a Fabric network; tokens inside it."""
    root = Path(ledger_dir)
    ledger: ServedLedger | FabricLedger = (
        FabricLedger(root) if is_profile(root) else ServedLedger(root)
    )
    state = ServerState(ledger, tokens or TokenStore.for_ledger(ledger.root), public_read)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ledger.close()

    app = FastAPI(
        title="tensorledger",
        version=__version__,
        description="REST API over a tensorledger ledger (docs/design/server.md).",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # the Swagger UI loads scripts from a CDN, which the CSP forbids
        redoc_url=None,
        default_response_class=RedactingJSONResponse,
        lifespan=lifespan,
    )
    app.state.server = state
    _install_error_handlers(app)
    # Over Fabric, the routes that read an embedded store are replaced by qscc-backed ones.
    readers = (fabric,) if isinstance(ledger, FabricLedger) else (chain, proofs, events)
    for module in (service, *readers, registry, federated, lineage, contracts):
        app.include_router(module.router, prefix=API)
    if static_dir is not None:
        _mount_explorer(app, static_dir)
    if cors_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[cors_origin],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(SecurityHeaders, api_prefix=API)
    return app
