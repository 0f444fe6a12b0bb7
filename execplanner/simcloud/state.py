"""One simulated site's mutable state: what its Keystone, Nova, Glance and Neutron hold right now.

Static objects (projects, flavors, images, networks) are built from the spec with stable ids; dynamic ones
(servers, ports, floating IPs, keypairs, tokens...) are created by API calls and can be saved to JSON.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from execplanner.simcloud.loopback import next_free, pool_size
from execplanner.simcloud.records import (
    AppCredential,
    Flavor,
    FloatingIP,
    Image,
    Keypair,
    KeystoneUser,
    Network,
    Port,
    Project,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Server,
    Subnet,
    Token,
    Volume,
    stable_id,
)
from execplanner.simcloud.spec import QuotaSpec, SiteSpec

ADMIN_PROJECT = "admin"


def _first_and_last_host(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[str, str] | None:
    """The first and last of `network.hosts()` without listing them (a /16 is 65,534 addresses); None for a
    network bigger than a /16, which gets no default gateway or pool."""
    if network.num_addresses > 65536:
        return None
    if network.prefixlen >= network.max_prefixlen - 1:  # /31, /32 (and IPv6 /127, /128): every address is a host
        hosts = list(network.hosts())
        return str(hosts[0]), str(hosts[-1])
    last = network[-2] if network.version == 4 else network[-1]  # IPv4 leaves out the broadcast address
    return str(network[1]), str(last)


class IpExhausted(Exception):
    """No free address left in a network's allocation pools."""


@dataclass
class SiteCloud:
    """Everything one site holds. Callers take `lock` around any read-modify-write."""

    spec: SiteSpec
    lock: threading.RLock = field(default_factory=threading.RLock)
    projects: dict[str, Project] = field(default_factory=dict)
    flavors: dict[str, Flavor] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    routers: dict[str, Router] = field(default_factory=dict)
    users: dict[str, KeystoneUser] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    app_credentials: dict[str, AppCredential] = field(default_factory=dict)
    keypairs: dict[tuple[str, str], Keypair] = field(default_factory=dict)
    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)
    floating_ips: dict[str, FloatingIP] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    quotas: dict[str, QuotaSpec] = field(default_factory=dict)
    address_block: str = "127.10.0.0/20"  # loopback addresses of this site's ports and floating IPs
    volumes: dict[str, Volume] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    # ------------------------------------------------------------------ building from the spec
    @classmethod
    def from_spec(cls, spec: SiteSpec) -> SiteCloud:
        site = cls(spec=spec)
        for vo in spec.vos:
            site.projects[vo.project_id] = Project(id=vo.project_id, name=f"VO:{vo.name}", vo=vo.name)
            site.quotas[vo.project_id] = spec.quota_for(vo)
        for flavor in spec.flavors:
            fid = flavor.id or stable_id(spec.name, "flavor", flavor.name)
            site.flavors[fid] = Flavor(id=fid, spec=flavor)
        site._build_images()
        site._build_networks()
        for project_id in site.projects:
            site.default_security_group(project_id)
        return site

    def project_of_vo(self, vo: str) -> str | None:
        return self.spec.vo_projects.get(vo)

    def _build_images(self) -> None:
        for image in self.spec.images:
            iid = image.id or stable_id(self.name, "image", image.name)
            owner = self.project_of_vo(image.owner_vo) if image.owner_vo else None
            members = [p for vo in image.member_vos if (p := self.project_of_vo(vo))]
            self.images[iid] = Image(id=iid, owner=owner or ADMIN_PROJECT, spec=image, member_projects=members)

    def _add_network(self, name: str, project_id: str, *, external: bool, shared: bool, provider: dict) -> Network:
        net = Network(
            id=stable_id(self.name, "network", project_id, name),
            name=name,
            project_id=project_id,
            external=external,
            shared=shared,
            provider=provider,
            subnet_ids=[],
        )
        self.networks[net.id] = net
        return net

    def _add_subnet(self, net: Network, name: str, cidr: str, gateway: str | None, pools: list) -> Subnet:
        hosts = _first_and_last_host(ipaddress.ip_network(cidr))
        gw = gateway or (hosts[0] if hosts else None)
        if not pools and hosts:
            first = str(ipaddress.ip_address(hosts[0]) + 1) if gw == hosts[0] else hosts[0]
            pools = [(first, hosts[1])]
        subnet = Subnet(
            id=stable_id(self.name, "subnet", net.id, name),
            name=name,
            network_id=net.id,
            project_id=net.project_id,
            cidr=cidr,
            gateway=gw,
            pools=pools,
        )
        self.subnets[subnet.id] = subnet
        net.subnet_ids.append(subnet.id)
        return subnet

    def _build_networks(self) -> None:
        by_name: dict[str, Network] = {}
        for spec in self.spec.networks:
            net = self._add_network(
                spec.name, ADMIN_PROJECT, external=spec.external, shared=spec.shared, provider=spec.provider
            )
            by_name[spec.name] = net
            for sub in spec.subnets:
                pools = [(p.start, p.end) for p in sub.allocation_pools]
                self._add_subnet(net, sub.name, sub.cidr, sub.gateway, pools)
        for spec in self.spec.networks:
            if spec.router_to:
                net = by_name[spec.name]
                self._add_router(f"{spec.name}-router", ADMIN_PROJECT, by_name[spec.router_to].id, net)
        external = next((n for n in by_name.values() if n.external), None)
        template = self.spec.project_network
        if template is None:
            return
        for project in self.projects.values():
            net = self._add_network(template.name, project.id, external=False, shared=False, provider={})
            self._add_subnet(net, f"{template.name}-subnet", template.cidr, None, [])
            if template.router and external is not None:
                self._add_router(f"{template.name}-router", project.id, external.id, net)

    def _add_router(self, name: str, project_id: str, gateway_net: str, inner: Network) -> None:
        router = Router(
            id=stable_id(self.name, "router", project_id, name),
            name=name,
            project_id=project_id,
            external_network_id=gateway_net,
            subnet_ids=list(inner.subnet_ids),
        )
        self.routers[router.id] = router

    def default_security_group(self, project_id: str) -> SecurityGroup:
        """Every project has a `default` group: all egress, ingress only from the same group (as Neutron)."""
        for group in self.security_groups.values():
            if group.project_id == project_id and group.name == "default":
                return group
        gid = stable_id(self.name, "secgroup", project_id, "default")
        rules = [
            SecurityGroupRule(
                stable_id(gid, d, e), gid, project_id, d, e, remote_group_id=gid if d == "ingress" else None
            )
            for d in ("ingress", "egress")
            for e in ("IPv4", "IPv6")
        ]
        group = SecurityGroup(gid, "default", "Default security group", project_id, rules)
        self.security_groups[gid] = group
        return group

    # ------------------------------------------------------------------ visibility
    def network_visible(self, net: Network, project_id: str) -> bool:
        return net.shared or net.external or net.project_id == project_id

    def image_visible(self, image: Image, project_id: str) -> bool:
        if image.spec.visibility in ("public", "community"):
            return True
        return image.owner == project_id or project_id in image.member_projects

    # ------------------------------------------------------------------ addresses
    def allocate_ip(self, network_id: str) -> tuple[str, str]:
        """The next free address on a network, as (subnet_id, ip). Used by ports and floating IPs alike.

        A subnet's declared pools say how many addresses it has; the address handed out is a loopback one of
        this site's block (see `loopback.py`), so that a simulated VM can really be reached at it."""
        taken = {ip for port in self.ports.values() for _, ip in port.fixed_ips}
        taken |= {fip.address for fip in self.floating_ips.values()}
        for subnet_id in self.networks[network_id].subnet_ids:
            subnet = self.subnets[subnet_id]
            used = sum(1 for port in self.ports.values() for sid, _ in port.fixed_ips if sid == subnet_id)
            used += sum(1 for fip in self.floating_ips.values() if fip.subnet_id == subnet_id)
            if used < pool_size(subnet.pools, subnet.gateway):
                address = next_free(self.address_block, taken)
                if address is not None:
                    return subnet.id, address
        raise IpExhausted(network_id)

    def reachable_router(self, fip_network_id: str, port: Port) -> Router | None:
        """The router joining the port's subnet to the floating IP's network; None means unreachable."""
        port_subnets = {sid for sid, _ in port.fixed_ips}
        for router in self.routers.values():
            if router.external_network_id == fip_network_id and port_subnets & set(router.subnet_ids):
                return router
        return None

    # ------------------------------------------------------------------ usage
    def usage(self, project_id: str) -> QuotaSpec:
        """What the project holds now, counted from the objects themselves (never stored apart from them)."""
        usage = QuotaSpec.zero()
        for server in self.servers.values():
            if server.project_id == project_id:
                flavor = self.flavors.get(server.flavor_id)
                usage.instances += 1
                usage.cores += flavor.spec.vcpus if flavor else 0
                usage.ram += flavor.spec.ram if flavor else 0
        usage.floating_ips = sum(1 for f in self.floating_ips.values() if f.project_id == project_id)
        usage.ports = sum(1 for p in self.ports.values() if p.project_id == project_id)
        groups = [g for g in self.security_groups.values() if g.project_id == project_id]
        usage.security_groups = len(groups)
        usage.security_group_rules = sum(len(g.rules) for g in groups)
        usage.volumes, usage.gigabytes = self._volume_usage(project_id)
        return usage

    def _volume_usage(self, project_id: str) -> tuple[int, int]:
        """(volumes, GiB) the project holds, as Cinder counts them against its quota."""
        sizes = [v.size for v in self.volumes.values() if v.project_id == project_id]
        return len(sizes), sum(sizes)

    def user_keypair_count(self, user_id: str) -> int:
        return sum(1 for (uid, _) in self.keypairs if uid == user_id)

    def quota(self, project_id: str) -> QuotaSpec:
        return self.quotas.setdefault(project_id, self.spec.quota.model_copy())

    # ------------------------------------------------------------------ tokens
    def live_token(self, token_id: str | None) -> Token | None:
        if not token_id:
            return None
        token = self.tokens.get(token_id)
        if token is None or not token.valid():
            return None
        if token.app_cred_id and token.app_cred_id not in self.app_credentials:
            return None
        return token

    def forget_expired_tokens(self) -> None:
        now = time.time()
        for token_id in [t.id for t in self.tokens.values() if not t.valid(now)]:
            del self.tokens[token_id]

    # ------------------------------------------------------------------ persistence
    def dump(self) -> dict[str, Any]:
        """The dynamic part of the state, JSON-able. Static objects are rebuilt from the spec."""
        return {
            "users": [asdict(u) for u in self.users.values()],
            "tokens": [asdict(t) for t in self.tokens.values()],
            "app_credentials": [asdict(a) for a in self.app_credentials.values()],
            "keypairs": [asdict(k) for k in self.keypairs.values()],
            "security_groups": [asdict(g) for g in self.security_groups.values()],
            "ports": [asdict(p) for p in self.ports.values()],
            "floating_ips": [asdict(f) for f in self.floating_ips.values()],
            "servers": [asdict(s) for s in self.servers.values()],
            "quotas": {pid: q.model_dump() for pid, q in self.quotas.items()},
            "volumes": [asdict(v) for v in self.volumes.values()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.users = {u["id"]: KeystoneUser(**u) for u in data.get("users", [])}
        self.tokens = {t["id"]: Token(**t) for t in data.get("tokens", [])}
        self.app_credentials = {a["id"]: AppCredential(**a) for a in data.get("app_credentials", [])}
        self.keypairs = {(k["user_id"], k["name"]): Keypair(**k) for k in data.get("keypairs", [])}
        groups = {}
        for g in data.get("security_groups", []):
            rules = [SecurityGroupRule(**r) for r in g.pop("rules")]
            groups[g["id"]] = SecurityGroup(**g, rules=rules)
        self.security_groups = groups or self.security_groups
        self.ports = {
            p["id"]: Port(**{**p, "fixed_ips": [tuple(x) for x in p["fixed_ips"]]}) for p in data.get("ports", [])
        }
        self.floating_ips = {f["id"]: FloatingIP(**f) for f in data.get("floating_ips", [])}
        self.servers = {s["id"]: Server(**s) for s in data.get("servers", [])}
        for pid, quota in data.get("quotas", {}).items():
            self.quotas[pid] = QuotaSpec(**{**self.quota(pid).model_dump(), **quota})  # older files lack new keys
        self.volumes = {v["id"]: Volume(**v) for v in data.get("volumes", [])}
