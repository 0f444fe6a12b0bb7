"""The simulated VMs themselves: once a server is ACTIVE, something answers at its addresses.

For every ACTIVE server the VM host listens on each of its fixed and floating addresses (loopback addresses,
see `loopback.py`), on each port that both its security groups open to the world and its cloud-init declares
in the service manifest (`MANIFEST_PATH` among `write_files`). What answers is deliberately tiny:
a Jupyter-like server (token checked) for `jupyter` services, a plain page for `web` ones, and an SSH banner
on port 22 when a rule opens it. A deleted (or ERROR) server stops answering. Fault rules on the call `vm.http`
(per site) reach the HTTP services too: `error` answers `status` (default 503), `timeout` and `slow` hold the
answer `seconds`, `stuck` closes the connection without a word. The manifest is the contract
with `execplanner.cloud.userdata`, which writes it on real VMs too (it documents what the VM runs).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import ipaddress
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import yaml

if TYPE_CHECKING:
    from execplanner.simcloud.faults import FaultInjector
    from execplanner.simcloud.records import SecurityGroupRule, Server
    from execplanner.simcloud.state import SiteCloud

log = logging.getLogger(__name__)

MANIFEST_PATH = "/etc/execplanner/services.json"
SSH_PORT = 22
PROBE_SOURCE = ipaddress.ip_address("127.0.0.1")
MAX_REQUEST_HEAD = 16384
READ_TIMEOUT = 10.0
#: The call name fault rules use for what a VM's HTTP services answer (the readiness probe, a user's browser).
VM_CALL = "vm.http"
VM_FAULT_KINDS: frozenset[str] = frozenset({"error", "timeout", "slow", "stuck"})


@dataclass(frozen=True)
class Service:
    """What answers on one port: `jupyter` (token checked), `web` (a plain page) or `ssh` (a banner)."""

    port: int
    kind: str
    token: str | None = None
    server: str = ""
    site: str = ""


# ---------------------------------------------------------------------- what a server declares and opens
def cloud_config(user_data: str | None) -> dict[str, object]:
    """The server's user data as a cloud-config mapping ({} for none, a script, or anything unreadable)."""
    if not user_data:
        return {}
    try:
        text = base64.b64decode(user_data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return {}
    if not text.startswith("#cloud-config"):
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _file_content(entry: dict[str, object]) -> str:
    content = str(entry.get("content") or "")
    if str(entry.get("encoding") or "") in ("b64", "base64"):
        return base64.b64decode(content).decode("utf-8")
    return content


def declared_services(user_data: str | None) -> list[Service]:
    """The services the cloud-init manifest says the VM runs (none when there is no manifest)."""
    return list(_declared(user_data))


@functools.lru_cache(maxsize=1024)
def _declared(user_data: str | None) -> tuple[Service, ...]:
    """`declared_services`, read once per user data: the host looks at every ACTIVE server 20 times a second,
    and parsing its cloud-config (YAML) each time was most of the simulator's CPU in a burst of launches."""
    files = cloud_config(user_data).get("write_files")
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, dict) and entry.get("path") == MANIFEST_PATH:
            try:
                manifest = json.loads(_file_content(entry))
            except (ValueError, binascii.Error):
                return ()
            return tuple(
                Service(int(s["port"]), str(s.get("kind", "web")), s.get("token"))
                for s in manifest.get("services", [])
                if isinstance(s, dict) and "port" in s
            )
    return ()


def _rule_opens(rule: SecurityGroupRule, port: int) -> bool:
    if rule.direction != "ingress" or rule.ethertype != "IPv4" or rule.remote_group_id:
        return False
    if rule.protocol not in (None, "tcp", "6"):
        return False
    if rule.remote_ip_prefix and PROBE_SOURCE not in ipaddress.ip_network(rule.remote_ip_prefix, strict=False):
        return False
    low = rule.port_range_min if rule.port_range_min is not None else 1
    high = rule.port_range_max if rule.port_range_max is not None else 65535
    return low <= port <= high


def opens(site: SiteCloud, server: Server, port: int) -> bool:
    """Whether one of the server's security groups lets TCP to `port` in from outside."""
    groups = [
        g
        for g in site.security_groups.values()
        if g.project_id == server.project_id and (g.name in server.security_groups or g.id in server.security_groups)
    ]
    return any(_rule_opens(rule, port) for group in groups for rule in group.rules)


def server_addresses(site: SiteCloud, server: Server) -> list[str]:
    addresses: list[str] = []
    for port_id in server.port_ids:
        port = site.ports.get(port_id)
        if port is None:
            continue
        addresses.extend(ip for _, ip in port.fixed_ips)
        addresses.extend(f.address for f in site.floating_ips.values() if f.port_id == port_id)
    return addresses


def wanted_listeners(site: SiteCloud) -> dict[tuple[str, int], Service]:
    """Every (address, port) that should answer at this site right now, and what answers there."""
    wanted: dict[tuple[str, int], Service] = {}
    with site.lock:
        for server in site.servers.values():
            if server.status() != "ACTIVE":
                continue
            services = declared_services(server.user_data) + [Service(SSH_PORT, "ssh")]
            for service in services:
                if not opens(site, server, service.port):
                    continue
                for address in server_addresses(site, server):
                    wanted[(address, service.port)] = Service(
                        service.port, service.kind, service.token, server.name, site.name
                    )
    return wanted


# ---------------------------------------------------------------------- what answers
def _response(status: str, body: bytes, content_type: str, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Server: execplanner-simcloud-vm\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode("ascii") + body


def _token_of(target: str, headers: dict[str, str]) -> str | None:
    query = parse_qs(urlsplit(target).query)
    if "token" in query:
        return query["token"][0]
    auth = headers.get("authorization", "")
    return auth[6:].strip() if auth.lower().startswith("token ") else None


def jupyter_answer(service: Service, target: str, headers: dict[str, str]) -> bytes:
    """Jupyter's shape: `/api` is open (the readiness probe), everything else wants the token."""
    path = urlsplit(target).path
    if path.rstrip("/") == "/api":
        return _response("200 OK", b'{"version": "2.14.0"}', "application/json")
    if path.startswith("/login"):
        return _response("200 OK", b"<html><body>Password or token: <form></form></body></html>", "text/html")
    if service.token and _token_of(target, headers) == service.token:
        body = f"<html><title>JupyterLab</title><body>JupyterLab on {service.server}</body></html>".encode()
        return _response("200 OK", body, "text/html")
    return _response("302 Found", b"", "text/html", f"Location: /login?next={path}\r\n")


def web_answer(service: Service) -> bytes:
    body = f"<html><body>Simulated service on port {service.port} of {service.server}</body></html>".encode()
    return _response("200 OK", body, "text/html")


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    lines = raw[:MAX_REQUEST_HEAD].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    target = parts[1] if len(parts) > 1 else "/"
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return target, headers


async def _http_answer(service: Service, reader: asyncio.StreamReader, faults: FaultInjector | None) -> bytes | None:
    """What an HTTP service answers, unless a fault rule says otherwise (None: close without a word)."""
    target, headers = await _read_head(reader)
    rule = faults.take(service.site, VM_CALL, VM_FAULT_KINDS) if faults is not None else None
    if faults is not None and rule is not None:
        if rule.kind == "stuck":
            return None
        if rule.kind == "error":
            body = (rule.message or "Simulated fault").encode()
            return _response(f"{rule.status or 503} Simulated fault", body, "text/plain")
        with faults.holding():  # timeout, slow
            await asyncio.sleep(rule.seconds)
    return jupyter_answer(service, target, headers) if service.kind == "jupyter" else web_answer(service)


async def _serve(
    service: Service, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, faults: FaultInjector | None = None
) -> None:
    try:
        if service.kind == "ssh":
            writer.write(b"SSH-2.0-OpenSSH_9.6 simcloud\r\n")
        else:
            answer = await _http_answer(service, reader, faults)
            if answer is not None:
                writer.write(answer)
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


# ---------------------------------------------------------------------- the host
class VmHost:
    """A background thread with an event loop that keeps listeners in line with the sites' ACTIVE servers."""

    def __init__(
        self, sites: dict[str, SiteCloud], interval: float = 0.05, faults: FaultInjector | None = None
    ) -> None:
        self._sites = sites
        self._faults = faults
        self._interval = interval
        self._listeners: dict[tuple[str, int], tuple[Service, asyncio.Server]] = {}
        self._refused: set[tuple[str, int]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._passes = 0
        self._passed = threading.Condition()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="simcloud-vms", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def listening(self) -> set[tuple[str, int]]:
        """(address, port) pairs answering right now (for tests and `/_sim/state`)."""
        return set(self._listeners)

    def wait_pass(self, timeout: float = 10.0) -> bool:
        """Wait until a whole pass has run after this call: then every listener reflects the state as of now."""
        with self._passed:
            target = self._passes + 2
            return self._passed.wait_for(lambda: self._passes >= target, timeout)

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._ready.set()
        while not self._stop.is_set():
            await self._sync()
            with self._passed:
                self._passes += 1
                self._passed.notify_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
        for _, listener in self._listeners.values():
            listener.close()
        self._listeners.clear()

    async def _sync(self) -> None:
        wanted: dict[tuple[str, int], Service] = {}
        for site in list(self._sites.values()):
            wanted.update(wanted_listeners(site))
        for key in [k for k, (service, _) in self._listeners.items() if wanted.get(k) != service]:
            _, listener = self._listeners.pop(key)
            listener.close()
            log.info("simcloud.vm.stopped address=%s port=%s", *key)
        for key, service in wanted.items():
            if key not in self._listeners:
                await self._listen(key, service)

    async def _listen(self, key: tuple[str, int], service: Service) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _serve(service, reader, writer, self._faults)

        try:
            listener = await asyncio.start_server(handle, host=key[0], port=key[1], reuse_address=True)
        except OSError as exc:
            if key not in self._refused:
                self._refused.add(key)
                log.warning("simcloud.vm.listen_failed address=%s port=%s error=%s", key[0], key[1], exc)
            return
        self._refused.discard(key)
        self._listeners[key] = (service, listener)
        log.info("simcloud.vm.listening address=%s port=%s kind=%s", key[0], key[1], service.kind)
