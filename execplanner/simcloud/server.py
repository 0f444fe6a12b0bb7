"""`SimFederation`: the simulated federation served by uvicorn on loopback, in a background thread (tests,
demos) or in the foreground (`execplanner sim`)."""

from __future__ import annotations

import base64
import signal
import socket
import threading
import time
from pathlib import Path

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from execplanner.api.server import PromptServer
from execplanner.simcloud.app import create_app
from execplanner.simcloud.checkin import TOKEN_PATH, RefreshGrant
from execplanner.simcloud.faults import FaultInjector
from execplanner.simcloud.federation import Federation
from execplanner.simcloud.siteconfig import auth_url, write_site_configs
from execplanner.simcloud.spec import FederationSpec, UserSpec, load_federation
from execplanner.simcloud.view import SiteView, site_view
from execplanner.simcloud.vms import VmHost

STARTUP_TIMEOUT = 10.0


class _StopRequested(Exception):
    """Raised by our signal handler when uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown."""


def _stop_requested(signum: int, frame: object) -> None:
    raise _StopRequested(signum)


class SimSite:
    """What a client needs to know about one simulated site."""

    def __init__(self, name: str, auth_url: str, vos: dict[str, str]) -> None:
        self.name = name
        self.auth_url = auth_url
        self.vos = vos

    def __repr__(self) -> str:
        return f"SimSite({self.name!r}, {self.auth_url!r})"


def bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose proto says TCP,
    # and uvicorn writes an answer's head and body separately; with Nagle on, each answer on a kept-alive
    # connection waited for the client's delayed ACK (~40 ms on Linux) before its body went out
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


class SimFederation:
    def __init__(
        self, federation: Federation, sock: socket.socket, log_level: str = "warning", embedded: bool = False
    ) -> None:
        """`embedded`: served inside another program (the service's `--cloud sim`, a test), whose logging set-up
        uvicorn's own (plain-text lines on its loggers) must not replace."""
        self.federation = federation
        self._socket = sock
        host, port = sock.getsockname()[:2]
        self.base_url = f"http://{host}:{port}"
        config = uvicorn.Config(
            create_app(federation),
            log_level=log_level,
            access_log=False,
            lifespan="off",
            log_config=None if embedded else LOGGING_CONFIG,
        )
        self._server = PromptServer(config)
        self._thread: threading.Thread | None = None
        self.vms = VmHost(federation.sites, faults=federation.faults)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        spec: FederationSpec | None = None,
        state_file: Path | None = None,
        log_level: str = "warning",
        embedded: bool = False,
    ) -> SimFederation:
        """Build and bind, without serving yet (the CLI serves in the foreground with `serve_forever`)."""
        federation = Federation(spec or load_federation(), state_file=state_file)
        return cls(federation, bind(host, port), log_level=log_level, embedded=embedded)

    @classmethod
    def start(
        cls, host: str = "127.0.0.1", port: int = 0, spec: FederationSpec | None = None, state_file: Path | None = None
    ) -> SimFederation:
        """Serve in a background thread of this process, leaving its logging as it is, and return once it accepts
        connections. `port=0` picks a free port."""
        sim = cls.create(host, port, spec, state_file, embedded=True)
        sim._thread = threading.Thread(
            target=sim._server.run, kwargs={"sockets": [sim._socket]}, name="simcloud", daemon=True
        )
        sim._thread.start()
        sim.vms.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not sim._server.started:
            if time.monotonic() > deadline or not sim._thread.is_alive():
                raise RuntimeError("simulated federation did not start")
            time.sleep(0.01)
        return sim

    def serve_forever(self) -> None:
        """Serve in this (main) thread until SIGINT/SIGTERM, then save state and return normally.

        uvicorn shuts down gracefully on those signals and then re-raises them to the handler it found
        installed; ours turns that into an exception, so the process exits 0 instead of dying by the signal.
        """
        previous = {sig: signal.signal(sig, _stop_requested) for sig in (signal.SIGINT, signal.SIGTERM)}
        self.vms.start()
        try:
            self._server.run(sockets=[self._socket])
        except _StopRequested:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.vms.stop()
            self.federation.persist()
            self._socket.close()

    def stop(self) -> None:
        self._server.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.vms.stop()
        self.federation.persist()
        self._socket.close()

    def __enter__(self) -> SimFederation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ what clients and tests use
    @property
    def spec(self) -> FederationSpec:
        return self.federation.spec

    @property
    def sites(self) -> list[SimSite]:
        return [SimSite(s.name, auth_url(self.base_url, s.name), s.vo_projects) for s in self.spec.sites]

    def site(self, name: str) -> SimSite:
        return next(s for s in self.sites if s.name == name)

    @property
    def demo_token(self) -> str:
        return self.federation.demo_token

    @property
    def faults(self) -> FaultInjector:
        return self.federation.faults

    def add_token(
        self, token: str, entitlements: list[str], expired: bool = False, name: str | None = None
    ) -> UserSpec:
        return self.federation.add_token(token, entitlements, expired, name)

    @property
    def token_endpoint(self) -> str:
        """The simulated Check-in's token endpoint (refresh_token grant), for robot accounts."""
        return self.base_url + TOKEN_PATH

    def add_refresh_token(
        self,
        refresh_token: str,
        client_id: str,
        client_secret: str | None,
        entitlements: list[str],
        name: str = "robot",
        access_ttl: float = 300.0,
    ) -> RefreshGrant:
        """A robot account's refresh token; each refresh gives an access token valid for `access_ttl` seconds."""
        grant = RefreshGrant(refresh_token, client_id, client_secret, name, entitlements, access_ttl)
        return self.federation.checkin.register(grant)

    def revoke_refresh_token(self, refresh_token: str) -> None:
        self.federation.checkin.revoke(refresh_token)

    def state(self, site: str) -> SiteView:
        return site_view(self.federation.sites[site])

    def listening(self) -> set[tuple[str, int]]:
        """(address, port) pairs at which simulated VMs answer right now."""
        return self.vms.listening()

    def user_data(self, site: str, server_id: str) -> str | None:
        """A server's user data as the VM received it (decoded), for tests that check what it would run."""
        server = self.federation.sites[site].servers.get(server_id)
        if server is None or server.user_data is None:
            return None
        return base64.b64decode(server.user_data).decode("utf-8")

    def set_boot_delay(self, site: str, seconds: float) -> None:
        """Servers created from now on at `site` take this long to leave BUILD."""
        self.federation.sites[site].spec.boot_delay = seconds

    def set_oidc_federation(self, site: str, enabled: bool) -> None:
        """False: `site` refuses Check-in tokens from now on and takes only application credentials (CREODIAS)."""
        self.federation.sites[site].spec.oidc_federation = enabled

    def set_response_delay(self, site: str, seconds: float) -> None:
        self.federation.sites[site].spec.response_delay = seconds

    def write_site_config(self, directory: str | Path) -> Path:
        return write_site_configs(self.base_url, self.spec, directory)
