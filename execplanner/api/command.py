"""`execplanner serve`: run the service under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import click

from execplanner import logs
from execplanner.api.server import PromptServer
from execplanner.config import Settings, load_settings
from execplanner.errors import ListenError
from execplanner.lifecycle.credentials import CredentialSource


class _Server(PromptServer):
    """uvicorn re-raises SIGTERM/SIGINT after a graceful shutdown; an operator expects exit status 0. A signal
    starts the shutdown at once (PromptServer); `on_listening` runs once it listens."""

    #: called once the server is listening (serve prints the line that says where)
    on_listening: Callable[[], None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.on_listening is not None:
            self.on_listening()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class Simulated(Protocol):
    base_url: str

    def stop(self) -> None: ...


#: `--cloud sim`: starts the simulated federation and returns it, the settings pointing at it, and the credentials
#: to launch with. The API layer never imports the simulator: the CLI (`execplanner.cli`) sets this.
SimulatedCloud = Callable[[Settings], tuple[Simulated, Settings, CredentialSource]]
simulated_cloud: SimulatedCloud | None = None


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
    "--cloud",
    type=click.Choice(["sim", "egi", "none"]),
    default=None,
    help=_describe("cloud") + " (default none; `make run` uses sim)",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML settings file (keys as in docs/configuration.md). [env: EXECPLANNER_CONFIG]",
)
def serve(config_file: Path | None, **flags: object) -> None:
    """Run the execplanner service (SQLite, bundled catalogue and simulated FedCloud by default).

    What stops it from starting is one line on stderr and an exit code of its own (docs/configuration.md):
    a bad setting or config file, an unreadable catalogue, a database it cannot open, a port it cannot listen on.
    """
    settings = load_settings(flags, config_file=config_file)
    logs.configure(settings.log_level)
    from execplanner.api.app import create_app
    from execplanner.api.connections import uvicorn_config
    from execplanner.store.database import Store

    listening = _listen(settings.host, settings.port)
    simulated, credentials = None, None
    try:
        if settings.cloud == "sim":
            if simulated_cloud is None:
                raise click.ClickException("--cloud sim needs the simulator, which this installation does not wire in")
            simulated, settings, credentials = simulated_cloud(settings)
            click.echo(f"simulated FedCloud at {simulated.base_url} (catalogue {settings.catalogue})", err=True)
        app = create_app(settings, credentials=credentials)
        Store.open(settings.database_url).close()  # unreachable or misconfigured: say so now, not in a traceback
    except BaseException:
        listening.close()
        if simulated is not None:
            simulated.stop()
        raise
    server = _Server(uvicorn_config(app, settings))  # listens on our socket: its host and port go unused

    def announce() -> None:
        for sock in (s for srv in server.servers for s in srv.sockets):
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            click.echo(f"execplanner listening on http://{shown}:{port}", err=False)

    server.on_listening = announce  # as soon as it listens, not at the next look (it polled every 0.05 s)
    try:
        asyncio.run(server.serve(sockets=[listening]))
    finally:
        if simulated is not None:
            simulated.stop()
    # Stopped, and everything closed: the interpreter's last collection at exit would only walk the whole heap
    # (catalogue, models, libraries), 0.05-0.3 s of every stop, to free memory the process is giving back anyway.
    gc.freeze()
    if not server.started:  # the app's own start-up failed after our checks; uvicorn has said why
        raise SystemExit(3)


def _listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a port in use is one line and not uvicorn's exit."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.set_inheritable(True)
    return sock


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML settings file, as given to serve. [env: EXECPLANNER_CONFIG]",
)
@click.option("--timeout", type=float, default=4.0, show_default=True, help="Seconds to wait for the answer.")
def healthcheck(config_file: Path | None, timeout: float) -> None:
    """Exit 0 when the service configured here (EXECPLANNER_* variables, config file) answers /healthz.

    The container's HEALTHCHECK: it reads the same settings as `serve`, so it follows the configured port."""
    import urllib.error
    import urllib.request

    settings = load_settings({}, config_file=config_file)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 — our own loopback URL
            status = answer.status
    except (OSError, urllib.error.URLError) as exc:
        raise click.ClickException(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    if status != 200:
        raise click.ClickException(f"{url}: {status}")
    click.echo(f"{url}: ok")
