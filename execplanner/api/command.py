"""`execplanner serve`: run the service under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import click
import uvicorn

from execplanner.config import Settings, load_settings
from execplanner.errors import ExecPlannerError


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after a graceful shutdown; an operator expects exit status 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _describe(name: str) -> str:
    field = Settings.model_fields[name]
    return f"{field.description} [env: EXECPLANNER_{name.upper()}]"


@click.command()
@click.option("--host", default=None, help=_describe("host") + " (default 127.0.0.1)")
@click.option("--port", type=int, default=None, help=_describe("port") + " (default 8080)")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help=_describe("data_dir"))
@click.option("--database", default=None, help=_describe("database"))
@click.option("--catalogue", type=click.Path(path_type=Path), default=None, help=_describe("catalogue"))
@click.option("--base-url", default=None, help=_describe("base_url"))
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="TOML settings file (keys as in docs/configuration.md). [env: EXECPLANNER_CONFIG]",
)
def serve(config_file: Path | None, **flags: object) -> None:
    """Run the execplanner service (SQLite, bundled catalogue and simulated FedCloud by default)."""
    try:
        settings = load_settings(flags, config_file=config_file)
    except ExecPlannerError as exc:
        raise click.ClickException(exc.message) from exc
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    from execplanner.api.app import create_app

    try:
        app = create_app(settings)
    except ExecPlannerError as exc:
        raise click.ClickException(exc.message) from exc
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        server_header=False,
    )
    server = _Server(config)

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        for sock in (s for srv in server.servers for s in srv.sockets):
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            click.echo(f"execplanner listening on http://{shown}:{port}", err=False)

    async def main() -> None:
        watcher = asyncio.create_task(announce())
        await server.serve()
        watcher.cancel()

    asyncio.run(main())
