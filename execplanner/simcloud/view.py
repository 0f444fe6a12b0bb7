"""Read-only snapshots of a site for test assertions (`fed.state(site)`) and `GET /_sim/state/<SITE>`."""

from __future__ import annotations

from dataclasses import dataclass, field

from execplanner.simcloud.spec import QuotaSpec
from execplanner.simcloud.state import SiteCloud


@dataclass(frozen=True)
class ServerView:
    id: str
    name: str
    status: str
    project_id: str
    flavor: str
    image: str
    key_name: str | None
    user_data: str | None
    metadata: dict[str, str]
    tags: list[str]
    addresses: dict[str, list[str]]
    fault: str | None


@dataclass(frozen=True)
class FloatingIPView:
    id: str
    address: str
    network: str
    project_id: str
    port_id: str | None
    server_id: str | None


@dataclass(frozen=True)
class KeypairView:
    name: str
    user_id: str
    fingerprint: str


@dataclass(frozen=True)
class AppCredentialView:
    id: str
    name: str
    user_id: str
    project_id: str


@dataclass(frozen=True)
class VolumeView:
    id: str
    name: str
    size: int
    status: str
    project_id: str
    server_id: str | None
    device: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class SiteView:
    name: str
    servers: list[ServerView] = field(default_factory=list)
    floating_ips: list[FloatingIPView] = field(default_factory=list)
    keypairs: list[KeypairView] = field(default_factory=list)
    app_credentials: list[AppCredentialView] = field(default_factory=list)
    ports: int = 0
    usage: dict[str, QuotaSpec] = field(default_factory=dict)  # by project id, only projects that use something
    volumes: list[VolumeView] = field(default_factory=list)

    def server(self, name: str) -> ServerView:
        return next(s for s in self.servers if s.name == name)


def _server_view(site: SiteCloud, server_id: str) -> ServerView:
    server = site.servers[server_id]
    addresses: dict[str, list[str]] = {}
    for port_id in server.port_ids:
        port = site.ports.get(port_id)
        if port is None:
            continue
        ips = addresses.setdefault(site.networks[port.network_id].name, [])
        ips.extend(ip for _, ip in port.fixed_ips)
        ips.extend(f.address for f in site.floating_ips.values() if f.port_id == port_id)
    flavor = site.flavors.get(server.flavor_id)
    image = site.images.get(server.image_id)
    status = server.status()
    return ServerView(
        id=server.id,
        name=server.name,
        status=status,
        project_id=server.project_id,
        flavor=flavor.spec.name if flavor else server.flavor_id,
        image=image.spec.name if image else server.image_id,
        key_name=server.key_name,
        user_data=server.user_data,
        metadata=dict(server.metadata),
        tags=list(server.tags),
        addresses=addresses,
        fault=server.fault_message if status == "ERROR" else None,
    )


def site_view(site: SiteCloud) -> SiteView:
    with site.lock:
        fips = []
        for fip in site.floating_ips.values():
            port = site.ports.get(fip.port_id or "")
            fips.append(
                FloatingIPView(
                    fip.id,
                    fip.address,
                    site.networks[fip.network_id].name,
                    fip.project_id,
                    fip.port_id,
                    port.device_id if port else None,
                )
            )
        used_projects = {s.project_id for s in site.servers.values()} | {f.project_id for f in fips}
        used_projects |= {v.project_id for v in site.volumes.values()}
        return SiteView(
            name=site.name,
            servers=[_server_view(site, sid) for sid in site.servers],
            floating_ips=fips,
            keypairs=[KeypairView(k.name, k.user_id, k.fingerprint) for k in site.keypairs.values()],
            app_credentials=[
                AppCredentialView(a.id, a.name, a.user_id, a.project_id) for a in site.app_credentials.values()
            ],
            ports=len(site.ports),
            usage={pid: site.usage(pid) for pid in sorted(used_projects)},
            volumes=[_volume_view(site, vid) for vid in site.volumes],
        )


def _volume_view(site: SiteCloud, volume_id: str) -> VolumeView:
    v = site.volumes[volume_id]
    return VolumeView(v.id, v.name, v.size, v.status(), v.project_id, v.server_id, v.device, dict(v.metadata))
