"""`tensorledger serve`: the REST API and web explorer over a ledger, and its API tokens.

FastAPI and uvicorn (the `[server]` extra) are imported inside the command, so
the rest of the CLI starts without them; `serve token` needs neither.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer
from rich.table import Table

from tensorledger.cli._context import console, options, print_json
from tensorledger.cli._views import JsonFlag
from tensorledger.errors import ConfigError
from tensorledger.server.tokens import SCOPES, Scope, TokenStore

serve_app = typer.Typer(
    name="serve",
    rich_markup_mode="rich",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
token_app = typer.Typer(
    name="token",
    help="API tokens: each maps to an identity and a scope; only hashes are stored.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
serve_app.add_typer(token_app)


def register(root: typer.Typer) -> None:
    """Add the `serve` group to the application."""
    root.add_typer(serve_app)


@serve_app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8600,
    public_read: Annotated[
        bool, typer.Option("--public-read", help="Allow reads without a token.")
    ] = False,
    cors_origin: Annotated[
        str | None, typer.Option(help="Allow this one origin cross-site (CORS is off otherwise).")
    ] = None,
) -> None:
    r"""Serve the REST API (/api/v1) and the web explorer (/) over the ledger until Ctrl-C.

    Needs the \[server] extra. Every request acts as the identity of its API
    token (see [bold]serve token add[/bold]); reads need a token too unless
    --public-read is given. The OpenAPI spec is at /api/v1/openapi.json.

    [bold]Example[/bold]

      tensorledger -l ./ledger serve token add --identity Org1 --scope write --expires 30d
      tensorledger -l ./ledger serve --port 8600
    """
    if ctx.invoked_subcommand is not None:
        return
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise ConfigError("serving needs the server extra: pip install 'tensorledger[server]'")
    import uvicorn

    from tensorledger.server.app import create_app

    opts = options(ctx)
    if not opts.ledger.is_dir():
        raise ConfigError(f"no ledger at {opts.ledger}: create one with `tensorledger init`")
    app = create_app(opts.ledger, public_read=public_read, cors_origin=cors_origin)
    console.print(f"serving {opts.ledger} at http://{host}:{port}/ (API at /api/v1)")
    # A short grace period: open SSE streams would otherwise hold shutdown for ever.
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=2)


@token_app.command("add")
def add(
    ctx: typer.Context,
    identity: Annotated[
        str, typer.Option(help="Who the token acts as: 'Org1' or 'Org1/Admin'.")
    ] = "Org1",
    scope: Annotated[str, typer.Option(help="'read' or 'write'.")] = "read",
    expires: Annotated[
        str, typer.Option(help="Lifetime ('30d', '12h', '2w') or an RFC 3339 time.")
    ] = "30d",
) -> None:
    """Issue a token and print it once; only its SHA-256 is kept.

    [bold]Example[/bold]

      tensorledger serve token add --identity Org2 --scope read --expires 12h
    """
    opts = options(ctx)
    if scope not in SCOPES:
        raise ConfigError(f"--scope must be 'read' or 'write', not {scope!r}")
    if not opts.ledger.is_dir():
        raise ConfigError(f"no ledger at {opts.ledger}: create one with `tensorledger init`")
    from tensorledger.gateway import _fabric_profile
    from tensorledger.ledger.network import EmbeddedNetwork

    # Refuse an identity the ledger (or the Fabric network's profile) lacks.
    if _fabric_profile.is_profile(opts.ledger):
        _fabric_profile.load_profile(opts.ledger).identity(identity)
    else:
        EmbeddedNetwork(opts.ledger).identity(identity)
    scope_value: Scope = "write" if scope == "write" else "read"
    token, entry = TokenStore.for_ledger(opts.ledger).add(identity, scope_value, expires)
    typer.echo(token)
    typer.echo(
        f"token {entry.id}: {entry.identity}, {entry.scope}, expires {entry.expires} "
        "(shown once; keep it secret)",
        err=True,
    )


@token_app.command("ls")
def ls(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List tokens (ids, identities, scopes, expiry; never the tokens).

    [bold]Example[/bold]

      tensorledger serve token ls --json
    """
    entries = TokenStore.for_ledger(options(ctx).ledger).entries()
    if as_json:
        print_json(
            [
                {
                    "id": e.id,
                    "identity": e.identity,
                    "scope": e.scope,
                    "created": e.created,
                    "expires": e.expires,
                    "expired": e.expired(),
                }
                for e in entries
            ]
        )
        return
    table = Table("id", "identity", "scope", "expires", "")
    for e in entries:
        table.add_row(e.id, e.identity, e.scope, e.expires, "expired" if e.expired() else "")
    console.print(table)


@token_app.command("revoke")
def revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Revoke a token by id; a running server refuses it from its next request.

    [bold]Example[/bold]

      tensorledger serve token revoke 3f9a2c
    """
    entry = TokenStore.for_ledger(options(ctx).ledger).revoke(token_id)
    console.print(f"revoked {entry.id} ({entry.identity}, {entry.scope})")
